"""Where a work's ERC-2981 royalty is paid on chain: a split contract (ledger.splits) whose
recipients are the payees of the work's signed split, each at the wallet it registered.

A rights holder without a wallet is paid at its organisation's; an organisation without one (and
the platform) at the platform's account, which holds it for them and pays by statement. When
every part goes to the platform's account, that account is the receiver itself: no split.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ledgerline.accounts.models import Organisation
from ledgerline.datasets.models import RightsHolder
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.splits import split_address, split_create
from ledgerline.works.models import Work

SHARE_PLACES = 12  # a manifest's shares are exact to 12 decimal places (royalties.splits)


@dataclass(frozen=True)
class Destination:
    wallet: str | None  # the payee's own wallet, if it registered one
    accrues_to: str  # "wallet", "organisation" (its organisation's wallet) or "platform"
    address: str | None  # where its part is paid; None: the platform's account


PLATFORM_ACCOUNT = Destination(wallet=None, accrues_to="platform", address=None)


def payee_destinations(payees: Iterable[str]) -> dict[str, Destination]:
    """Where each payee key (holder:<id>, organisation:<id>, platform) is paid now."""
    keys = set(payees)
    ids: dict[str, set[uuid.UUID]] = {"holder": set(), "organisation": set()}
    for key in keys:
        kind, _, pk = key.partition(":")
        if kind in ids and (parsed := _uuid(pk)) is not None:
            ids[kind].add(parsed)
    holders = {
        f"holder:{h.pk}": h for h in RightsHolder.objects.filter(pk__in=ids["holder"]).select_related("organisation")
    }
    organisations = {f"organisation:{o.pk}": o for o in Organisation.objects.filter(pk__in=ids["organisation"])}
    found = {}
    for key in keys:
        if (holder := holders.get(key)) is not None:
            found[key] = _holder_destination(holder)
        elif (organisation := organisations.get(key)) is not None and organisation.wallet:
            found[key] = Destination(wallet=organisation.wallet, accrues_to="wallet", address=organisation.wallet)
        else:
            found[key] = PLATFORM_ACCOUNT
    return found


def _holder_destination(holder: RightsHolder) -> Destination:
    if holder.wallet:
        return Destination(wallet=holder.wallet, accrues_to="wallet", address=holder.wallet)
    if holder.organisation.wallet:
        return Destination(wallet=None, accrues_to="organisation", address=holder.organisation.wallet)
    return PLATFORM_ACCOUNT


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def works_recipients(works: list[Work], *, platform: str) -> dict[Any, dict[str, int]]:
    """{work id: {address: parts}}: each payee's share of the work's royalty in units of 10^-12,
    summed per address (``platform``: the platform's account). A work with no recorded split,
    or no resale royalty, pays it all to the platform's account."""
    splits = {w.pk: _royalties(w) for w in works}
    destinations = payee_destinations(p["payee"] for split in splits.values() if split for p in split["payees"])
    recipients = {}
    for work in works:
        split = splits[work.pk]
        if not split or not int(split.get("resale_bps", 0)):
            recipients[work.pk] = {platform: 10**SHARE_PLACES}
            continue
        parts: dict[str, int] = {}
        for payee in split["payees"]:
            address = destinations[payee["payee"]].address or platform
            parts[address] = parts.get(address, 0) + int(Decimal(payee["share"]).scaleb(SHARE_PLACES))
        recipients[work.pk] = {address: n for address, n in parts.items() if n}
    return recipients


def _royalties(work: Work) -> dict[str, Any] | None:
    royalties: dict[str, Any] | None = work.manifest.get("manifest", {}).get("royalties")
    return royalties


def royalty_receiver(*, ledger: Ledger, recipients: dict[str, int], create: bool = True) -> str:
    """The ERC-2981 receiver for ``recipients``: the platform's account when it is the only one,
    else their split contract, made now unless it exists (or ``create`` is false: its address)."""
    if not recipients.keys() - {ledger.account.address}:
        return ledger.account.address
    if create:
        return split_create(ledger=ledger, recipients=recipients)
    return split_address(ledger=ledger, recipients=recipients)
