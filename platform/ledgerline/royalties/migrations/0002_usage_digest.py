"""Usage events get the digest of their canonical form, and lose the indexes and foreign key
constraints the import paid for on every row (see UsageEvent's docstring)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ledgerline.royalties.usage_rows import event_digest

BATCH = 2000


def digests_fill(apps, schema_editor):  # noqa: ANN001, ANN201 (a migration's signature)
    UsageEvent = apps.get_model("royalties", "UsageEvent")
    events = UsageEvent.objects.order_by("id").values_list(
        "id", "event_id", "work_id", "kind", "service", "territory", "usage_type", "units",
        "revenue_micros", "currency", "period_start", "period_end",
    )  # fmt: skip
    batch = []
    for pk, event_id, work_id, kind, service, territory, usage_type, units, revenue, currency, start, end in (
        events.iterator(chunk_size=BATCH)
    ):
        digest = event_digest(
            event_id, uuid.UUID(str(work_id)).hex, kind, service, territory, usage_type, units, revenue, currency,
            start.isoformat(), end.isoformat(),
        )  # fmt: skip
        batch.append(UsageEvent(id=pk, digest=digest))
        if len(batch) == BATCH:
            UsageEvent.objects.bulk_update(batch, ["digest"])
            batch = []
    UsageEvent.objects.bulk_update(batch, ["digest"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("royalties", "0001_initial"),
        ("works", "0002_pipeline"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="usageevent",
            name="digest",
            field=models.BinaryField(max_length=32, null=True, help_text="SHA-256 of the event's canonical form"),
        ),
        migrations.RunPython(digests_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="usageevent",
            name="digest",
            field=models.BinaryField(max_length=32, help_text="SHA-256 of the event's canonical form"),
        ),
        migrations.AlterField(
            model_name="usageevent",
            name="organisation",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.organisation",
            ),
        ),
        migrations.AlterField(
            model_name="usageevent",
            name="work",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_events",
                to="works.work",
            ),
        ),
        migrations.AlterField(
            model_name="usageevent",
            name="reported_by",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
