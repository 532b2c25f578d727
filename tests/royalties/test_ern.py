"""Releases and their DDEX ERN 4.3 messages: valid against DDEX's own schema, and every value
the same as the signed manifests say."""

import io
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import xmlschema
import yaml
from rest_framework.test import APIClient

from ledgerline.datasets import samples
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.hashing import sha256_bytes
from ledgerline.royalties.releases import icpn_clean
from ledgerline.royalties.services import licence_data
from ledgerline.royalties.splits import work_split
from ledgerline.works.manifest import MEDIA
from ledgerline.works.models import Work, WorkOutput, WorkStatus
from ledgerline.works.steps import work_sign
from ledgerline.works.transitions import blob_put
from tests.royalties.conftest import Catalogue

SCHEMA = Path(__file__).parent / "data" / "ddex-ern-43" / "release-notification.xsd"
DPID = "PADPIDA2026120501L"
HOSTILE = 'Noise & <Signal> "quoted" \u2117 \U0001f3b5 ]]> <!-- -->'


@pytest.fixture(scope="session")
def ern_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def signed(work: Work, seconds: float, tmp_path: Path) -> Work:
    """``work`` as the pipeline's signing step leaves it, then minted: its composition (MIDI) and
    rendered WAV, the watermarked WAV with C2PA credentials as its audio, its manifest signed."""
    samples.melody_midi(tmp_path / f"{work.pk}.mid", seed=work.seed)
    samples.tone_audio(tmp_path / f"{work.pk}.wav", seconds=seconds, frequency=330 + 110 * work.seed)
    for kind, suffix in (("midi", "mid"), ("wav", "wav")):
        blob = blob_put((tmp_path / f"{work.pk}.{suffix}").read_bytes())
        WorkOutput.objects.update_or_create(work=work, kind=kind, defaults={"blob": blob, "media_type": MEDIA[kind]})
    WorkOutput.objects.filter(work=work, kind="audio").delete()  # signed again: its audio made anew
    Work.objects.filter(pk=work.pk).update(status=WorkStatus.CHECKED)
    work.refresh_from_db()
    work_sign(work=work, terms=licence_data(run=work.model.run), royalties=work_split(work))
    Work.objects.filter(pk=work.pk).update(status=WorkStatus.CONFIRMED, cid=f"bafywork{work.seed}")
    work.refresh_from_db()
    return work


@pytest.fixture
def release_works(catalogue: Catalogue, tmp_path: Path) -> list[Work]:
    """Two minted works with signed manifests and ISRCs."""
    works = [signed(work, seconds, tmp_path) for work, seconds in zip(catalogue.works[:2], (2.0, 3.5), strict=True)]
    for n, work in enumerate(works, start=1):
        assigned = catalogue.team.owner.client.post(
            f"/api/v1/works/{work.pk}/isrc/", {"isrc": f"GB-A1C-26-0000{n}"}, format="json"
        )
        assert assigned.status_code == 201, assigned.json()
    return works


def release_make(catalogue: Catalogue, tracks: list[Work], **fields: Any) -> Any:
    body = {"title": "First Light", "works": [str(w.pk) for w in tracks], "sender_dpid": DPID, **fields}
    return catalogue.team.teammate.client.post("/api/v1/releases/", body, format="json")


def ern_of(catalogue: Catalogue, release_id: str) -> Any:
    return catalogue.team.auditor.client.get(f"/api/v1/releases/{release_id}/ern.xml")


def test_a_release_is_an_ern_message_that_the_ddex_schema_accepts(
    catalogue: Catalogue, release_works: list[Work], ern_schema: xmlschema.XMLSchema
) -> None:
    made = release_make(catalogue, release_works, icpn="5012345678900", release_date="2026-12-24")
    assert made.status_code == 201, made.json()
    release = made.json()
    assert [t["isrc"] for t in release["tracks"]] == ["GBA1C2600001", "GBA1C2600002"]
    assert release["label_name"] == "Acme Records" and release["ern"].endswith("/ern.xml")

    response = catalogue.team.auditor.client.get(release["ern"], HTTP_ACCEPT="application/xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    ern_schema.validate(io.BytesIO(response.content))
    misnamed = response.content.replace(b"<Algorithm>SHA-256<", b"<Algorithm>SHA256<")
    assert not ern_schema.is_valid(io.BytesIO(misnamed))  # the schema knows its allowed values
    root = ET.fromstring(response.content)
    header = root.find("MessageHeader")
    assert header is not None and header.findtext("MessageSender/PartyId") == DPID
    assert root.findtext("ReleaseList/Release/ReleaseId/ICPN") == "5012345678900"
    assert root.findtext("ReleaseList/Release/ReleaseType") == "EP"
    items = root.findall("ReleaseList/Release/ResourceGroup/ResourceGroupContentItem")
    assert [i.findtext("ReleaseResourceReference") for i in items] == ["A1", "A2"]
    again = ern_of(catalogue, release["id"])
    assert ET.fromstring(again.content).findtext("MessageHeader/MessageId") != header.findtext("MessageId")


def test_each_recording_says_what_its_signed_manifest_says(
    catalogue: Catalogue, release_works: list[Work], ern_schema: xmlschema.XMLSchema
) -> None:
    release = release_make(catalogue, release_works).json()
    root = ET.fromstring(ern_of(catalogue, release["id"]).content)
    parties = {p.findtext("PartyReference"): p for p in root.iterfind("PartyList/Party")}
    recordings = root.findall("ResourceList/SoundRecording")
    assert len(recordings) == 2
    for recording, work, seconds in zip(recordings, release_works, (2.0, 3.5), strict=True):
        manifest = work.manifest["manifest"]
        edition = recording.find("SoundRecordingEdition")
        assert edition is not None
        assert edition.findtext("ResourceId/ISRC") == work.isrc.code
        ids = {i.get("Namespace"): i.text for i in edition.iterfind("ResourceId/ProprietaryId")}
        assert ids["Ledgerline:work"] == manifest["work"]["id"]
        assert ids["Ledgerline:manifest-sha256"] == sha256_bytes(canonical_json(work.manifest))
        file = edition.find("TechnicalDetails/DeliveryFile/File")
        assert file is not None and file.findtext("HashSum/Algorithm") == "SHA-256"
        assert file.findtext("HashSum/HashSumValue") == manifest["content_sha256"] == work.content_sha256
        assert file.findtext("URI") == f"ipfs://{work.cid}/work.wav"
        [audio] = [o for o in manifest["outputs"] if o["kind"] == "audio"]
        assert file.findtext("FileSize") == str(audio["size"])
        assert recording.findtext("Duration") == f"PT{seconds:.3f}S"
        assert recording.findtext("DisplayTitleText") == manifest["work"]["title"]

        roles = {
            c.findtext("ContributorPartyReference"): c.find("Role").get("UserDefinedValue")  # type: ignore[union-attr]
            for c in recording.iterfind("Contributor")
        }
        names = {parties[ref].findtext("PartyName/FullName"): role for ref, role in roles.items()}
        weights = manifest["model"]["weights_sha256"]
        [model_ref] = [ref for ref, role in roles.items() if role == "AIMusicModel"]
        assert parties[model_ref].findtext("PartyId/ProprietaryId") == weights
        holders = {h["name"] for d in manifest["datasets"] for h in d["rights"]}
        assert holders == {"Ada", "Bo"}
        assert {n for n, role in names.items() if role == "TrainingDataRightsHolder"} == holders
        isni = {p.findtext("PartyName/FullName"): p.findtext("PartyId/ISNI") for p in parties.values()}
        assert isni["Ada"] == "0000000121032683"

        credits = [c.findtext("DisplayCreditText") or "" for c in recording.iterfind("DisplayCredits")]
        assert credits[0].startswith("AI-generated: the whole recording, its composition (MIDI) and its audio,")
        assert weights in credits[0] and credits[0].endswith("no human performance.")
        for dataset in manifest["datasets"]:
            [line] = [c for c in credits if f"dataset {dataset['dataset']} v{dataset['number']}" in c]
            assert dataset["merkle_root"] in line and f"licence {dataset['licence']}" in line
        assert "licence CC0-1.0" in " ".join(credits)
        assert "recordings of Ada in Composers v1 trained the model (50% of that dataset's rights)." in credits[3]
        assert credits[-1] == f"Released under the licence {manifest['licence']}."


def test_hostile_titles_still_give_valid_xml(
    catalogue: Catalogue, release_works: list[Work], ern_schema: xmlschema.XMLSchema, tmp_path: Path
) -> None:
    Work.objects.filter(pk=release_works[0].pk).update(title=HOSTILE + "\x1b\x08\ufffe")
    work = signed(Work.objects.get(pk=release_works[0].pk), 2.0, tmp_path)
    assert "\x1b" in work.manifest["manifest"]["work"]["title"]  # what the manifest signed, kept there
    release = release_make(catalogue, release_works, title=HOSTILE, label_name="Label <&> \u00e9").json()
    response = ern_of(catalogue, release["id"])
    ern_schema.validate(io.BytesIO(response.content))
    root = ET.fromstring(response.content)
    assert root.findtext("ReleaseList/Release/DisplayTitleText") == HOSTILE
    assert root.findtext("ResourceList/SoundRecording/DisplayTitleText") == HOSTILE
    label = {p.findtext("PartyReference"): p.findtext("PartyName/FullName") for p in root.iterfind("PartyList/Party")}
    assert label["P-LABEL"] == "Label <&> \u00e9"


@pytest.mark.parametrize("title", ["Bell\x07", "Two\nlines", "   "])
def test_a_title_with_control_characters_is_refused(
    catalogue: Catalogue, release_works: list[Work], title: str
) -> None:
    response = release_make(catalogue, release_works, title=title)
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["title"]


def test_only_members_see_a_release(catalogue: Catalogue, release_works: list[Work]) -> None:
    release = release_make(catalogue, release_works).json()
    team = catalogue.team
    for url in (f"/api/v1/releases/{release['id']}/", f"/api/v1/releases/{release['id']}/ern.xml"):
        assert team.outsider.client.get(url).status_code == 404
        assert team.auditor.client.get(url).status_code == 200
    assert team.outsider.client.get("/api/v1/releases/").json()["count"] == 0
    assert team.auditor.client.get("/api/v1/releases/").json()["count"] == 1
    refused = team.auditor.client.post("/api/v1/releases/", {"title": "x", "works": []}, format="json")
    assert refused.status_code == 403


def test_only_released_works_with_an_isrc_go_on_a_release(
    catalogue: Catalogue, release_works: list[Work], tmp_path: Path
) -> None:
    team = catalogue.team
    third = signed(catalogue.works[2], 1.0, tmp_path)
    no_isrc = release_make(catalogue, [release_works[0], third])
    assert no_isrc.status_code == 400
    assert f"/api/v1/works/{third.pk}/isrc/" in no_isrc.json()["error"]["message"]
    Work.objects.filter(pk=third.pk).update(status=WorkStatus.SIGNED)
    not_released = release_make(catalogue, [third])
    assert not_released.status_code == 400 and "not released" in not_released.json()["error"]["message"]
    Work.objects.filter(pk=third.pk).update(status=WorkStatus.CONFIRMED, manifest={})
    unsigned = release_make(catalogue, [third])
    assert unsigned.status_code == 400 and "no signed manifest" in unsigned.json()["error"]["message"]
    theirs = team.outsider.client.post(
        "/api/v1/releases/", {"title": "Mine now", "works": [str(release_works[0].pk)]}, format="json"
    )
    assert theirs.status_code == 400 and theirs.json()["error"]["fields"] == {"works": ["not found"]}
    twice = release_make(catalogue, [release_works[0], release_works[0]])
    assert twice.status_code == 400 and "once" in twice.json()["error"]["message"]


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"icpn": "5012345678901"}, "icpn"),
        ({"icpn": "12345"}, "icpn"),
        ({"sender_dpid": "DPID123"}, "sender_dpid"),
        ({"works": ["not-a-uuid"]}, "works"),
    ],
)
def test_what_is_not_an_identifier_is_refused(
    catalogue: Catalogue, release_works: list[Work], fields: dict[str, Any], field: str
) -> None:
    response = release_make(catalogue, release_works, **fields)
    assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_an_ern_needs_its_sender_dpid_and_a_recipient_that_is_one(
    catalogue: Catalogue, release_works: list[Work]
) -> None:
    release = release_make(catalogue, release_works, sender_dpid="").json()
    missing = ern_of(catalogue, release["id"])
    assert missing.status_code == 409 and "sender_dpid" in missing.json()["error"]["fields"]
    release = release_make(catalogue, release_works).json()
    url = f"/api/v1/releases/{release['id']}/ern.xml"
    assert catalogue.team.owner.client.get(url + "?recipient=nobody").status_code == 400
    sent = catalogue.team.owner.client.get(url + "?recipient=PADPIDA2014120301U")
    assert ET.fromstring(sent.content).findtext("MessageHeader/MessageRecipient/PartyId") == "PADPIDA2014120301U"


@pytest.mark.parametrize("code", ["036000291452", "5012345678900", "4006381333931", " 0 36000 29145 2 "])
def test_upcs_and_eans_with_their_check_digit_are_taken(code: str) -> None:
    assert icpn_clean(code) == code.replace(" ", "")


def test_the_schema_describes_releases_and_their_ern(db: Any) -> None:
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/releases/"])
    assert "get" in schema["paths"]["/api/v1/releases/{release_id}/"]
    ern = schema["paths"]["/api/v1/releases/{release_id}/ern.xml"]["get"]
    assert "application/xml" in ern["responses"]["200"]["content"]
    assert ern["responses"]["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
