"""Usage events: single and bulk, idempotent by the reporter's event id, whole files refused
with every bad line named, corrections and reversals, and submissions racing each other."""

import json
import threading
from typing import Any

import pytest
from django.db import connection

from ledgerline.royalties import usage
from ledgerline.royalties.models import UsageEvent
from tests.royalties.conftest import Catalogue

HEADER = (
    "event_id,isrc,token_id,content_sha256,service,territory,usage_type,units,revenue,currency,period_start,"
    "period_end\n"
)


def event(work: Any, event_id: str, revenue: str = "10.00", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "token_id": work.token.token_id,
        "service": "Spotify",
        "territory": "GB",
        "usage_type": "OnDemandStream",
        "units": 2500,
        "revenue": revenue,
        "currency": "EUR",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        **fields,
    }


def csv_line(work: Any, event_id: str, revenue: str = "1.50", **fields: Any) -> str:
    values = {
        "isrc": "",
        "token_id": str(work.token.token_id),
        "content_sha256": "",
        "service": "Deezer",
        "territory": "FR",
        "usage_type": "OnDemandStream",
        "units": "300",
        "revenue": revenue,
        "currency": "EUR",
        "period_start": "2026-10-01",
        "period_end": "2026-10-31",
        **fields,
    }
    return ",".join([event_id, *(values[k] for k in HEADER.strip().split(",")[1:])]) + "\n"


def bulk(client: Any, body: str, kind: str = "text/csv", query: str = "") -> Any:
    return client.generic("POST", f"/api/v1/usage-events/bulk/{query}", body.encode(), content_type=kind)


def total(catalogue: Catalogue) -> int:
    return sum(
        UsageEvent.objects.filter(organisation=catalogue.team.organisation).values_list("amount_micros", flat=True)
    )


@pytest.mark.django_db
def test_one_event_counts_once_however_often_it_is_sent(catalogue: Catalogue) -> None:
    client = catalogue.team.teammate.client
    body = event(catalogue.works[0], "dsr-1", "12.345678")
    first = client.post("/api/v1/usage-events/", body, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["revenue"] == "12.345678" and first.json()["work"] == str(catalogue.works[0].pk)
    again = client.post("/api/v1/usage-events/", body, format="json")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    other = client.post("/api/v1/usage-events/", {**body, "revenue": "99.00"}, format="json")
    assert other.status_code == 409
    assert "already reported with other values" in other.json()["error"]["message"]
    assert total(catalogue) == 12_345_678


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token_id": 999}, "no work of this organisation has the token 999"),
        ({"territory": "Britain"}, "ISO 3166"),
        ({"currency": "euro"}, "ISO 4217"),
        ({"revenue": "1.2345678"}, "more than 6 decimal places"),
        ({"revenue": "lots"}, "not a decimal number"),
        ({"units": "many"}, "not a whole number"),
        ({"usage_type": "Vibes"}, "usage_type 'Vibes' is not one of"),
        ({"period_start": "2026-11-01"}, "period_start is after period_end"),
        ({"period_end": "31/10/2026"}, "is not a date"),
        ({"service": ""}, "service is missing"),
        ({"kind": "correction"}, "corrects names the event"),
        ({"isrc": "GB-XXX-26-00001"}, "no released work of this organisation has the ISRC"),
    ],
)
def test_a_bad_event_is_refused_with_its_reason(catalogue: Catalogue, change: dict[str, Any], message: str) -> None:
    response = catalogue.team.teammate.client.post(
        "/api/v1/usage-events/", event(catalogue.works[0], "e", **change), format="json"
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert not UsageEvent.objects.exists()


@pytest.mark.django_db
def test_a_csv_with_bad_lines_is_refused_whole_with_each_line_named(catalogue: Catalogue) -> None:
    w = catalogue.works
    body = (
        HEADER
        + csv_line(w[0], "a1")
        + csv_line(w[1], "a2", revenue="abc")
        + csv_line(w[2], "a3")
        + "a4,,1\n"
        + csv_line(w[0], "a5", territory="Francia")
        + csv_line(w[0], "a1")  # the same line again: it counts once
        + csv_line(w[2], "a3", units="7")  # the same id with other values: this line's error
    )
    response = bulk(catalogue.team.owner.client, body)
    assert response.status_code == 400
    data = response.json()
    assert [(r["line"], r["event_id"]) for r in data["rejected"]] == [(3, "a2"), (5, None), (6, "a5"), (8, "a3")]
    assert "revenue 'abc' is not a decimal number" in data["rejected"][0]["reason"]
    assert "3 cells where the header has 12" in data["rejected"][1]["reason"]
    assert "event_id a3 appears earlier in this file with other values" in data["rejected"][3]["reason"]
    assert data["error"]["message"].startswith("4 of 7 lines are not valid, so nothing was imported; line 3")
    assert not UsageEvent.objects.exists()

    kept = bulk(catalogue.team.owner.client, body, query="?skip_invalid=true")
    assert kept.status_code == 201
    assert (kept.json()["accepted"], kept.json()["duplicates"], kept.json()["rejected_count"]) == (2, 1, 4)
    assert total(catalogue) == 3_000_000


@pytest.mark.django_db
def test_a_retried_file_counts_once(catalogue: Catalogue) -> None:
    lines = [
        json.dumps(event(w, f"j{i}-{w.index}", f"{i}.25", content_sha256=w.content_sha256))
        for i, w in enumerate(catalogue.works * 4)
    ]
    body = "\n".join(lines) + "\n"
    first = bulk(catalogue.team.owner.client, body, "application/x-ndjson")
    assert first.status_code == 201 and first.json()["accepted"] == 12
    before = total(catalogue)
    again = bulk(catalogue.team.owner.client, body, "application/x-ndjson")
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 12)
    assert total(catalogue) == before == sum(i * 1_000_000 + 250_000 for i in range(12))


@pytest.mark.django_db
def test_lines_repeated_across_chunks_count_once_and_a_changed_one_is_its_line_s_error(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of two lines, each written on the import's writer thread: a line repeated in a
    later chunk is found in the database, in the same transaction, and told apart by its digest."""
    monkeypatch.setattr(usage, "CHUNK", 2)
    w = catalogue.works
    lines = [csv_line(w[i % 3], f"c{i}", f"{i}.10") for i in range(7)]
    body = HEADER + "".join(lines) + lines[1] + lines[4] + lines[6]
    first = bulk(catalogue.team.owner.client, body)
    assert first.status_code == 201, first.json()
    assert (first.json()["accepted"], first.json()["duplicates"]) == (7, 3)
    assert total(catalogue) == sum(i * 1_000_000 + 100_000 for i in range(7))

    changed = bulk(
        catalogue.team.owner.client, HEADER + lines[0] + csv_line(w[0], "c9") + lines[2].replace(",FR,", ",DE,")
    )
    assert changed.status_code == 400
    assert [(r["line"], r["reason"]) for r in changed.json()["rejected"]] == [
        (4, "event_id c2 was already reported with other values")
    ]
    # What the lookup compares is the stored digest of the event's canonical form.
    UsageEvent.objects.filter(event_id="c3").update(digest=bytes(32))
    again = bulk(catalogue.team.owner.client, HEADER + lines[3])
    assert again.status_code == 400 and "event_id c3 was already reported" in again.json()["error"]["message"]


@pytest.mark.django_db
def test_corrections_and_reversals_change_the_totals_by_what_they_change(catalogue: Catalogue) -> None:
    client, work = catalogue.team.owner.client, catalogue.works[0]
    assert client.post("/api/v1/usage-events/", event(work, "s1", "10.00"), format="json").status_code == 201
    fixed = client.post(
        "/api/v1/usage-events/", event(work, "s1-fix", "12.50", kind="correction", corrects="s1"), format="json"
    )
    assert fixed.status_code == 201, fixed.json()
    assert (fixed.json()["amount"], fixed.json()["original"]) == ("2.5", "s1")
    again = client.post(
        "/api/v1/usage-events/", event(work, "s1-fix2", "11.00", kind="correction", corrects="s1-fix"), format="json"
    )
    assert again.json()["amount"] == "-1.5"
    assert total(catalogue) == 11_000_000
    resent = client.post(
        "/api/v1/usage-events/",
        event(work, "s1-fix2", "11.00", kind="correction", corrects="s1-fix", units=1),
        format="json",
    )
    assert resent.status_code == 409  # the same id with other values
    moved = client.post(
        "/api/v1/usage-events/",
        event(
            work, "s1-nov", "9.00", kind="correction", corrects="s1", period_start="2026-11-01", period_end="2026-11-30"
        ),
        format="json",
    )
    assert moved.status_code == 400
    assert "keeps the work, currency and period of s1" in moved.json()["error"]["message"]
    gone = client.post(
        "/api/v1/usage-events/", {"event_id": "s1-undo", "kind": "reversal", "corrects": "s1"}, format="json"
    )
    assert gone.status_code == 201, gone.json()
    assert gone.json()["amount"] == "-11"
    assert total(catalogue) == 0
    twice = client.post(
        "/api/v1/usage-events/", {"event_id": "s1-undo2", "kind": "reversal", "corrects": "s1"}, format="json"
    )
    assert twice.status_code == 400 and "already reversed" in twice.json()["error"]["message"]
    other = client.post(
        "/api/v1/usage-events/", event(catalogue.works[1], "x", kind="correction", corrects="nope"), format="json"
    )
    assert "not a reported event" in other.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_sent_twice_at_once_counts_once(catalogue: Catalogue) -> None:
    body = HEADER + "".join(csv_line(catalogue.works[i % 3], f"race-{i}", "0.10") for i in range(400))
    results: list[Any] = []

    def send() -> None:
        try:
            results.append(bulk(catalogue.team.owner.client, body).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["accepted"] for r in results) == [0, 0, 400], results
    assert sum(r["duplicates"] for r in results) == 800
    assert UsageEvent.objects.count() == 400 and total(catalogue) == 40_000_000


@pytest.mark.django_db
def test_only_writers_report_and_outsiders_see_nothing(catalogue: Catalogue) -> None:
    team = catalogue.team
    body = event(catalogue.works[0], "p1")
    assert team.auditor.client.post("/api/v1/usage-events/", body, format="json").status_code == 403
    assert team.outsider.client.post("/api/v1/usage-events/", body, format="json").status_code == 400  # not theirs
    assert team.teammate.client.post("/api/v1/usage-events/", body, format="json").status_code == 201
    assert team.auditor.client.get("/api/v1/usage-events/").json()["count"] == 1
    assert team.outsider.client.get("/api/v1/usage-events/").json()["count"] == 0
    assert bulk(team.owner.client, "x", "text/plain").status_code == 415
