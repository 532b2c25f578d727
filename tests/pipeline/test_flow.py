"""The chain of custody end to end on the embedded defaults: real chorales uploaded, a tiny
model trained, works generated, and every link checked from outside the database."""

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from ledgerline.datasets.models import RightsHolder
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import works_contract
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.provenance.models import SigningKey
from ledgerline.royalties.isrc import isrc_format
from ledgerline.storage.client import ipfs_connect
from ledgerline.training.models import TrainingRun
from ledgerline.works.credentials import credentials_read
from ledgerline_verify.checks import datasets_commitment
from ledgerline_verify.unixfs import CID
from tests.conftest import dataset_create
from tests.pipeline.conftest import TINY, ipfs_bytes, model_signing_verify, trained_run, upload_files, work_links_check


@pytest.mark.django_db
def test_chorales_to_confirmed_tokens(
    team: Any, chorale_files: list[Path], embedded: None, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    client = team.owner.client
    allowed = dataset_create(team, name="Chorales", rights_holders=[{"name": "Bach Estate", "share": "1"}])
    upload_files(client, allowed, chorale_files[:10])
    forbidden = dataset_create(team, name="Withheld", consent={"cawg.ai_training": "notAllowed"})
    upload_files(client, forbidden, chorale_files[10:])
    versions = [client.post(f"/api/v1/datasets/{d}/versions/", {}, format="json").json() for d in (allowed, forbidden)]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/training-runs/",
            {"name": "tiny", "config": TINY, "dataset_versions": [v["id"] for v in versions]},
            format="json",
        )
    assert response.status_code == 201, response.json()
    run = client.get(f"/api/v1/training-runs/{response.json()['id']}/").json()
    assert run["status"] == "succeeded", run["error"]
    assert sorted(e["path"] for e in run["excluded"]) == sorted(p.name for p in chorale_files[10:])
    assert run["progress"]["step"] == 40 and len(run["progress"]["curve"]) == 2
    [model] = run["artifacts"]

    # The weights: hashed, signed (PyPI model-signing verifies), pinned, anchored with their data.
    key = SigningKey.objects.get(key_id=model["key_id"])
    pinned = tmp_path / "pinned-model"
    pinned.mkdir()
    for link in ipfs_connect().listing(CID.parse(model["cid"])) or []:
        (pinned / link.name).write_bytes(ipfs_bytes(str(link.cid)))
    assert sha256_bytes((pinned / "model.safetensors").read_bytes()) == model["sha256"]
    verified = model_signing_verify(pinned, key.public_key_pem, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    (pinned / "config.json").write_bytes((pinned / "config.json").read_bytes() + b" ")
    assert model_signing_verify(pinned, key.public_key_pem, tmp_path).returncode != 0
    contract = works_contract(ledger=Ledger.connect())
    assert contract.functions.modelAnchoredAt(bytes.fromhex(model["sha256"])).call() == model["anchored_at"] > 0
    for version in versions:
        assert contract.functions.datasetAnchoredAt(bytes.fromhex(version["merkle_root"])).call() > 0
    [anchored] = contract.events.ModelAnchored().get_logs(from_block=0)
    assert anchored.args.weightsHash.hex() == model["sha256"]
    assert anchored.args.datasetsCommitment.hex() == datasets_commitment([v["merkle_root"] for v in versions])

    # Royalties: the label's policy and ISRC registrant code, before the works are made.
    policy = {"data_share": "0.4", "platform_share": "0.05", "resale_bps": 750}
    assert client.put("/api/v1/organisations/acme-records/royalty-policy/", policy, format="json").status_code == 200
    registrant = client.put(
        "/api/v1/organisations/acme-records/isrc-registrant/", {"country": "GB", "code": "A1C"}, format="json"
    )
    assert registrant.status_code == 200, registrant.json()
    tokens_trained = TrainingRun.objects.get(pk=run["id"]).metrics["training_tokens"]
    # The training side of the allowed chorales only: held-out and withheld files have no training tokens.
    trained = {path.rpartition("/")[2] for path in tokens_trained}
    assert trained < {p.name for p in chorale_files[:10]} and len(trained) >= 5
    assert all(n > 0 for n in tokens_trained.values())

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/generations/",
            {
                "title": "Chorale",
                "model": model["id"],
                "count": 3,
                "seed": 11,
                "parameters": {"length": 96, "originality_max_run": 1000},
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    generation = client.get(f"/api/v1/generations/{response.json()['id']}/").json()
    assert generation["progress"]["confirmed"] == 3, generation["progress"]
    tokens = {work_links_check(work, model, versions, key.public_key_pem) for work in generation["works"]}
    # The works may not be trained on: one of their datasets forbids it, and the most restrictive term wins.
    audio = ipfs_bytes(generation["works"][0]["cid"], "work.wav")
    assertions = {a["label"]: a["data"] for a in credentials_read(audio)["manifest"]["assertions"]}
    assert assertions["cawg.training-mining"]["entries"]["cawg.ai_training"]["use"] == "notAllowed"
    assert len(tokens) == 3 and contract.functions.totalMinted().call() == 3
    _royalties_check(client, generation["works"], contract)


def _royalties_check(client: Any, works: list[dict[str, Any]], contract: Any) -> None:
    """The split is in each signed manifest, the chain's ERC-2981 royalty is the policy's, the
    works have ISRCs from the registrant code, and usage reported by ISRC reaches the holder."""
    year = timezone.now().year % 100
    lines = ["event_id,isrc,service,territory,usage_type,units,revenue,currency,period_start,period_end"]
    isrcs = set()
    for n, work in enumerate(works):
        royalties = client.get(f"/api/v1/works/{work['id']}/royalties/").json()
        assert royalties["split_signed"] is True
        assert royalties["split"] == work["manifest"]["manifest"]["royalties"]
        shares = {p["name"]: p["share"] for p in royalties["split"]["payees"]}
        assert shares == {"Bach Estate": "0.4", "Ledgerline": "0.05", "Acme Records": "0.55"}
        assert royalties["split"]["weighted_by"] == "training tokens"
        receiver, fee = contract.functions.royaltyInfo(royalties["token_id"], 10_000).call()
        assert fee == 750 and receiver == Ledger.connect().account.address
        assert royalties["isrc"].startswith(f"GBA1C{year:02d}")
        isrcs.add(royalties["isrc"])
        lines.append(
            f"r{n},{isrc_format(royalties['isrc'])},Spotify,GB,OnDemandStream,9000,100.00,EUR,2026-10-01,2026-10-31"
        )
    assert len(isrcs) == 3
    imported = client.generic("POST", "/api/v1/usage-events/bulk/", "\n".join(lines).encode(), content_type="text/csv")
    assert imported.status_code == 201 and imported.json()["accepted"] == 3, imported.json()
    holder = RightsHolder.objects.get(name="Bach Estate")
    statement = client.get(f"/api/v1/statements/2026-10/holder:{holder.pk}/").json()
    assert statement["totals"] == {"EUR": "120.00"}


@pytest.mark.django_db
def test_a_work_over_the_originality_limit_is_held_with_its_reason(
    team: Any, chorale_files: list[Path], embedded: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = team.owner.client
    dataset = dataset_create(team)
    upload_files(client, dataset, chorale_files[:6])
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    model = trained_run(client, django_capture_on_commit_callbacks, [version["id"]], {**TINY, "max_steps": 20})[
        "artifacts"
    ][0]
    with django_capture_on_commit_callbacks(execute=True):
        work = client.post(
            "/api/v1/works/",
            {"title": "copy?", "model": model["id"], "seed": 3, "parameters": {"length": 96, "originality_max_run": 0}},
            format="json",
        ).json()
    work = client.get(f"/api/v1/works/{work['id']}/").json()
    assert work["status"] == "held" and work["token"] is None
    assert "repeats" in work["error"] and "the limit is 0" in work["error"]
    assert work["originality"]["longest_melody_run"] > 0


@pytest.mark.django_db
def test_a_primer_starts_every_piece_and_is_recorded(
    team: Any, chorale_files: list[Path], embedded: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = team.owner.client
    dataset = dataset_create(team)
    files = upload_files(client, dataset, chorale_files[:6])
    version = client.post(f"/api/v1/datasets/{dataset}/versions/", {}, format="json").json()
    model = trained_run(client, django_capture_on_commit_callbacks, [version["id"]], {**TINY, "max_steps": 20})[
        "artifacts"
    ][0]
    primer = files[0]["sha256"]
    made = {}
    for name, extra in (("primed", {"primer": primer}), ("plain", {}), ("searched", {"beams": 3})):
        with django_capture_on_commit_callbacks(execute=True):
            work = client.post(
                "/api/v1/works/",
                {
                    "title": name,
                    "model": model["id"],
                    "seed": 5,
                    "parameters": {"length": 64, "originality_max_run": 1000, **extra},
                },
                format="json",
            ).json()
        made[name] = client.get(f"/api/v1/works/{work['id']}/").json()
        assert made[name]["status"] == "confirmed", made[name]["error"]
    assert made["primed"]["manifest"]["manifest"]["generation"]["parameters"]["primer"] == primer
    outputs = {name: {o["kind"]: o["sha256"] for o in work["outputs"]} for name, work in made.items()}
    assert outputs["primed"]["midi"] != outputs["plain"]["midi"]  # same seed: the primer made the difference
    searched = made["searched"]["manifest"]["manifest"]["generation"]["provenance"]
    assert searched["params"]["beams"] == 3 and set(searched["constraint"]["ranges"]) == {
        "soprano",
        "alto",
        "tenor",
        "bass",
    }
