"""Wallets: an organisation's admins register where its on-chain royalties are paid, and where
its rights holders' are; an organisation that speaks for a holder may too. Only a checksummed
address is taken; statements say where each payee's part goes."""

from typing import Any

import pytest

from tests.conftest import _member
from tests.royalties.conftest import Catalogue

LABEL_WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ADA_WALLET = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def _put(client: Any, url: str, wallet: Any) -> Any:
    return client.put(url, {"wallet": wallet}, format="json")


@pytest.mark.django_db
def test_only_the_organisations_admins_set_its_wallet(catalogue: Catalogue) -> None:
    team = catalogue.team
    url = "/api/v1/organisations/acme-records/wallet/"
    assert team.auditor.client.get(url).json() == {"organisation": "acme-records", "wallet": None}
    assert _put(team.teammate.client, url, LABEL_WALLET).status_code == 403
    assert _put(team.outsider.client, url, LABEL_WALLET).status_code == 404
    assert team.outsider.client.get(url).status_code == 404
    set_ = _put(team.owner.client, url, LABEL_WALLET)
    assert set_.status_code == 200, set_.json()
    assert team.auditor.client.get(url).json()["wallet"] == LABEL_WALLET
    empty = team.owner.client.put(url, {}, format="json")  # not a way to clear it by accident
    assert empty.status_code == 400 and "wallet" in empty.json()["error"]["fields"]
    assert team.auditor.client.get(url).json()["wallet"] == LABEL_WALLET
    assert _put(team.owner.client, url, None).json()["wallet"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("wallet", "says"),
    [
        (LABEL_WALLET.lower(), "EIP-55 checksum"),
        (LABEL_WALLET[:-1] + "9", "EIP-55 checksum"),  # a typo the checksum catches
        ("0x1234", "not an Ethereum address"),
        ("alice.eth", "not an Ethereum address"),
        (12, "not an Ethereum address"),
        ("0x" + "00" * 20, "zero address"),
    ],
)
def test_anything_but_a_checksummed_address_is_refused(catalogue: Catalogue, wallet: Any, says: str) -> None:
    team = catalogue.team
    for url in (
        "/api/v1/organisations/acme-records/wallet/",
        f"/api/v1/rights-holders/{catalogue.holders['Ada'].pk}/wallet/",
    ):
        refused = _put(team.owner.client, url, wallet)
        assert refused.status_code == 400 and says in refused.json()["error"]["message"]
    assert team.owner.client.get("/api/v1/organisations/acme-records/wallet/").json()["wallet"] is None


@pytest.mark.django_db
def test_a_holders_wallet_is_set_by_its_label_or_by_the_organisation_that_speaks_for_it(catalogue: Catalogue) -> None:
    team = catalogue.team
    ada = catalogue.holders["Ada"]
    url = f"/api/v1/rights-holders/{ada.pk}/wallet/"
    assert _put(team.teammate.client, url, ADA_WALLET).status_code == 403
    publisher = _member(None, "publisher", None, admin_of="Ada Publishing")  # type: ignore[arg-type]
    assert _put(publisher.client, url, ADA_WALLET).status_code == 404
    assert publisher.client.get(url).status_code == 404
    team.owner.client.put(
        f"/api/v1/rights-holders/{ada.pk}/account/", {"organisation": "ada-publishing"}, format="json"
    )
    set_ = _put(publisher.client, url, ADA_WALLET)
    assert set_.status_code == 200, set_.json()
    assert set_.json() == {
        "holder": str(ada.pk),
        "name": "Ada",
        "organisation": "acme-records",
        "account": "ada-publishing",
        "wallet": ADA_WALLET,
        "accrues_to": "wallet",
    }
    assert team.auditor.client.get(url).json()["wallet"] == ADA_WALLET
    assert _put(team.outsider.client, url, None).status_code == 404
    assert _put(team.owner.client, url, None).json()["accrues_to"] == "platform"


@pytest.mark.django_db
def test_statements_say_where_each_payees_part_is_paid_on_chain(catalogue: Catalogue) -> None:
    team = catalogue.team
    ada, bo = catalogue.holders["Ada"], catalogue.holders["Bo"]

    def where(payee: str) -> tuple[str | None, str]:
        statement = team.owner.client.get(f"/api/v1/statements/2026-10/{payee}/").json()
        return statement["wallet"], statement["accrues_to"]

    label = f"organisation:{team.organisation.pk}"
    assert where(f"holder:{bo.pk}") == (None, "platform")  # nobody registered a wallet: held for them
    _put(team.owner.client, "/api/v1/organisations/acme-records/wallet/", LABEL_WALLET)
    _put(team.owner.client, f"/api/v1/rights-holders/{ada.pk}/wallet/", ADA_WALLET)
    assert where(f"holder:{ada.pk}") == (ADA_WALLET, "wallet")
    assert where(f"holder:{bo.pk}") == (None, "organisation")
    assert where(label) == (LABEL_WALLET, "wallet")
