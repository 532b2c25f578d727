from pathlib import Path
from typing import Any

import pytest

from ledgerline.accounts.models import Organisation
from ledgerline.provenance import keys, services
from ledgerline.provenance.models import SigningKey
from ledgerline.provenance.selectors import signed_manifest_verify


@pytest.fixture
def organisation(team: Any) -> Organisation:
    return team.organisation


def test_a_key_is_made_on_first_use_and_kept(organisation: Organisation) -> None:
    first = services.signing_key_active(organisation=organisation)
    assert services.signing_key_active(organisation=organisation) == first
    assert first.key_id == keys.key_id_of(keys.load_public_pem(first.public_key_pem))


def test_the_private_key_is_encrypted_on_disk_and_absent_from_the_database(
    organisation: Organisation, settings: Any
) -> None:
    key = services.signing_key_active(organisation=organisation)
    pem = (Path(settings.SIGNING_KEYS_DIR) / (key.key_id.removeprefix("sha256:") + ".pem")).read_text()
    assert "ENCRYPTED PRIVATE KEY" in pem
    assert (Path(settings.SIGNING_KEYS_DIR) / (key.key_id.removeprefix("sha256:") + ".pem")).stat().st_mode & 0o077 == 0
    row = SigningKey.objects.filter(pk=key.pk).values().get()
    assert not any("PRIVATE" in str(value) for value in row.values())


def test_a_wrong_passphrase_cannot_load_the_key(organisation: Organisation, settings: Any) -> None:
    key = services.signing_key_active(organisation=organisation)
    settings.SIGNING_KEY_PASSPHRASE = "not the passphrase"
    with pytest.raises(keys.KeyUnavailable, match="cannot be decrypted"):
        keys.KeyStore.default().load(key.key_id)


def test_a_signed_manifest_verifies_with_the_public_key_alone(organisation: Organisation) -> None:
    signed = services.manifest_sign(organisation=organisation, manifest={"work": "x", "sha256": "ab" * 32})
    public_pem = SigningKey.objects.get(key_id=signed["signature"]["key_id"]).public_key_pem
    assert signed_manifest_verify(signed=signed, public_key_pem=public_pem)


@pytest.mark.parametrize("tamper", ["manifest", "signature", "key_id"])
def test_a_changed_byte_fails(organisation: Organisation, tamper: str) -> None:
    signed = services.manifest_sign(organisation=organisation, manifest={"work": "x", "sha256": "ab" * 32})
    public_pem = SigningKey.objects.get(key_id=signed["signature"]["key_id"]).public_key_pem
    if tamper == "manifest":
        signed["manifest"]["sha256"] = "ab" * 31 + "ac"
    elif tamper == "signature":
        raw = bytearray(__import__("base64").b64decode(signed["signature"]["value"]))
        raw[-1] ^= 1
        signed["signature"]["value"] = __import__("base64").b64encode(bytes(raw)).decode()
    else:
        signed["signature"]["key_id"] = "sha256:" + "0" * 64
    assert not signed_manifest_verify(signed=signed, public_key_pem=public_pem)


def test_another_organisations_key_does_not_verify(team: Any) -> None:
    signed = services.manifest_sign(organisation=team.organisation, manifest={"n": 1})
    other = Organisation.objects.get(slug="other-label")
    other_pem = services.signing_key_active(organisation=other).public_key_pem
    assert not signed_manifest_verify(signed=signed, public_key_pem=other_pem)


def test_rotation_keeps_old_signatures_verifiable(team: Any) -> None:
    before = services.manifest_sign(organisation=team.organisation, manifest={"n": 1})
    response = team.owner.client.post(f"/api/v1/organisations/{team.organisation.slug}/keys/rotate/")
    assert response.status_code == 201
    after = services.manifest_sign(organisation=team.organisation, manifest={"n": 2})
    assert after["signature"]["key_id"] == response.json()["key_id"] != before["signature"]["key_id"]

    published = {k["key_id"]: k for k in team.outsider.client.get("/api/v1/keys/").json()["results"]}
    old = published[before["signature"]["key_id"]]
    assert old["retired_at"] is not None
    assert signed_manifest_verify(signed=before, public_key_pem=old["public_key_pem"])
    assert published[after["signature"]["key_id"]]["retired_at"] is None


def test_only_an_admin_rotates(team: Any) -> None:
    url = f"/api/v1/organisations/{team.organisation.slug}/keys/rotate/"
    assert team.teammate.client.post(url).status_code == 403
    assert team.auditor.client.post(url).status_code == 403
    assert team.outsider.client.post(url).status_code == 404


def test_public_keys_are_published_without_an_account(team: Any, client: Any) -> None:
    key = services.signing_key_active(organisation=team.organisation)
    body = client.get("/api/v1/keys/").json()
    assert [k["public_key_pem"] for k in body["results"] if k["key_id"] == key.key_id] == [key.public_key_pem]
    assert "PRIVATE" not in str(body)


def test_without_a_passphrase_one_is_made_once_and_the_deploy_check_warns(
    organisation: Organisation, settings: Any
) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.SIGNING_KEY_PASSPHRASE = ""
    key = services.signing_key_active(organisation=organisation)
    passphrase = Path(settings.SIGNING_KEYS_DIR) / ".passphrase"
    assert passphrase.stat().st_mode & 0o077 == 0
    first = passphrase.read_text()
    keys.KeyStore.default().load(key.key_id)  # a second reader gets the same passphrase
    assert passphrase.read_text() == first
    with pytest.raises(SystemCheckError, match=r"ledgerline\.W001"):
        call_command("check", "--deploy", "--fail-level", "WARNING", "--tag", "security")


def test_no_private_key_material_reaches_the_audit_log_or_the_logs(
    organisation: Organisation, caplog: pytest.LogCaptureFixture
) -> None:
    from ledgerline.provenance.models import AuditEntry

    with caplog.at_level("DEBUG"):
        services.signing_key_rotate(organisation=organisation, actor=None)
        services.manifest_sign(organisation=organisation, manifest={"n": 1})
    assert "PRIVATE KEY" not in caplog.text
    assert not any("PRIVATE" in str(entry.data) for entry in AuditEntry.objects.all())
