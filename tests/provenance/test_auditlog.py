from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledgerline.provenance.models import AuditEntry, AuditLogIsAppendOnly
from ledgerline.provenance.services import audit_verify


@pytest.fixture
def history(team: Any, upload: Any) -> int:
    upload("melody.mid", "tone.wav")
    count = AuditEntry.objects.count()
    assert count >= 8
    return count


def _raw(sql: str, params: list[Any]) -> None:
    """Edit the table behind the platform's back, as an attacker with database access would."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_untouched_log_verifies(history: int) -> None:
    out = StringIO()
    call_command("auditlog", "verify", stdout=out)
    assert f"intact: {history} entries" in out.getvalue()


def test_uploads_versions_and_keys_are_logged(team: Any, upload: Any) -> None:
    dataset_id, _ = upload("melody.mid")
    team.owner.client.post(f"/api/v1/datasets/{dataset_id}/versions/", {}, format="json")
    team.owner.client.post(f"/api/v1/organisations/{team.organisation.slug}/keys/rotate/")
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"dataset.create", "dataset_file.add", "dataset_version.create", "signing_key.rotate"} <= actions


def test_an_edited_entry_is_detected(history: int) -> None:
    _raw("UPDATE provenance_auditentry SET data = %s WHERE seq = %s", ['{"name": "forged"}', 3])
    result = audit_verify()
    assert not result.ok
    assert "entry #3" in str(result.problem) and "edited" in str(result.problem)
    with pytest.raises(CommandError, match="entry #3"):
        call_command("auditlog", "verify", stdout=StringIO())


def test_a_deleted_entry_is_detected(history: int) -> None:
    _raw("DELETE FROM provenance_auditentry WHERE seq = %s", [4])
    assert "entry #4 is missing" in str(audit_verify().problem)


def test_a_deleted_newest_entry_is_detected(history: int) -> None:
    _raw("DELETE FROM provenance_auditentry WHERE seq = %s", [history])
    assert "removed" in str(audit_verify().problem)


def test_a_rehashed_edit_is_still_detected_by_the_next_entry(history: int) -> None:
    entry = AuditEntry.objects.get(seq=2)
    from ledgerline.provenance.services import audit_entry_hash

    entry.data = {"forged": True}
    forged_hash = audit_entry_hash(entry)
    _raw(
        "UPDATE provenance_auditentry SET data = %s, entry_hash = %s WHERE seq = %s",
        ['{"forged": true}', forged_hash, 2],
    )
    assert "entry #3 does not follow #2" in str(audit_verify().problem)


def test_the_orm_refuses_to_change_or_delete_entries(history: int) -> None:
    entry = AuditEntry.objects.get(seq=1)
    entry.action = "changed"
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.filter(seq=1).update(action="changed")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.all().delete()
