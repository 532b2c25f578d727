"""Who a work's revenue goes to, from its lineage and its organisation's policy.

The training data's part (`data_share`) is divided between the dataset versions by their files'
share of the tokens the model trained on (`training_tokens`, recorded by the training run and by
each run behind a pretrained model it continues; for runs from before it was recorded, each file
counts the same), then between each version's
rights holders by their shares. A version with no rights holders (public-domain data) owes no
one: its part goes to the organisation. The platform gets `platform_share`, the organisation
the rest. The exact fractions are rounded to SHARE_PLACES decimal places by the largest-remainder
rule (money.apportion), so the shares are exact decimals that sum to exactly 1.
"""

from decimal import Decimal
from fractions import Fraction
from typing import Any

from ledgerline.datasets.models import DatasetVersion, RightsHolder
from ledgerline.datasets.selectors import rights_of
from ledgerline.royalties.models import RoyaltyPolicy
from ledgerline.royalties.money import apportion
from ledgerline.training.selectors import lineage_versions, run_chain
from ledgerline.works.models import Work
from ledgerline.works.selectors import Source, work_sources

SHARE_PLACES = 12
PLATFORM = "platform"


def organisation_payee(organisation_id: Any) -> str:
    return f"organisation:{organisation_id}"


def holder_payee(holder_id: Any) -> str:
    return f"holder:{holder_id}"


def policy_of(organisation: Any) -> RoyaltyPolicy:
    """The organisation's policy, or the default one (not saved) if it never set one."""
    return RoyaltyPolicy.objects.filter(organisation=organisation).first() or RoyaltyPolicy(organisation=organisation)


def version_weights(run: Any) -> tuple[dict[str, Fraction], str]:
    """Each version's share of the training tokens (by version id), and what was counted. A run
    that continues a pretrained model counts the tokens of every run behind it as well: the new
    weights carry what each of them trained on."""
    chain = run_chain(run)
    by_tokens = all(link.metrics.get("training_tokens") for link in chain)
    counts: dict[str, int] = {}
    for link in chain:
        tokens = link.metrics.get("training_tokens") or {}
        excluded = {(e["version"], e["path"]) for e in link.excluded}
        for version in link.dataset_versions.all():
            prefix = f"{version.dataset_id}-v{version.number}/"
            if by_tokens:
                count = sum(n for path, n in tokens.items() if path.startswith(prefix))
            else:
                paths = version.entries.values_list("path", flat=True)
                count = sum(1 for path in paths if (str(version.pk), path) not in excluded)
            counts[str(version.pk)] = counts.get(str(version.pk), 0) + count
    total = sum(counts.values())
    if not total:
        return {}, "nothing"
    return {key: Fraction(n, total) for key, n in counts.items() if n}, "training tokens" if by_tokens else "files"


def _holder_key(version: DatasetVersion, entry: dict[str, Any], cache: dict[tuple[Any, ...], str]) -> str:
    if entry.get("holder"):
        return holder_payee(entry["holder"])
    lookup = (version.dataset.organisation_id, entry["name"], entry.get("identifier", ""))
    if lookup not in cache:
        holder = RightsHolder.objects.filter(organisation_id=lookup[0], name=lookup[1], identifier=lookup[2]).first()
        if holder is None:
            raise ValueError(f"the rights holder {entry['name']!r} of {version} is no longer on record")
        cache[lookup] = holder_payee(holder.pk)
    return cache[lookup]


def work_split(work: Work) -> dict[str, Any]:
    """The split of ``work``'s revenue as its manifest records it:
    {policy, weighted_by, resale_bps, payees: [{payee, name, share}], sources}, shares as decimal
    strings. A work made from sources (a variation of another work or of a recording) gives each
    its part (Family.source_share, divided between them): that part goes by the source's own
    split (a work's as its manifest records it; a recording's to its rights holders, the rest to
    the organisation), the rest by the model's lineage."""
    policy = policy_of(work.organisation)
    exact, names, weighted_by = _lineage_split(work, policy)
    sources = work_sources(work)
    for source in sources:
        part = source.share / len(sources)
        theirs, their_names = _source_split(work, source)
        exact = {k: exact.get(k, Fraction(0)) * (1 - part) for k in exact}
        for key, share in theirs.items():
            exact[key] = exact.get(key, Fraction(0)) + part * share
        names.update(their_names)
    units = apportion(10**SHARE_PLACES, exact)
    payees = [
        {"payee": key, "name": names[key], "share": decimal_text(Decimal(units[key]).scaleb(-SHARE_PLACES))}
        for key in sorted(units)
        if units[key]
    ]
    return {
        "policy": {
            "data_share": decimal_text(policy.data_share),
            "platform_share": decimal_text(policy.platform_share),
        },
        "weighted_by": weighted_by,
        "resale_bps": policy.resale_bps,
        "payees": payees,
        **({"sources": [_source_entry(source, len(sources)) for source in sources]} if sources else {}),
    }


def _lineage_split(work: Work, policy: RoyaltyPolicy) -> tuple[dict[str, Fraction], dict[str, str], str]:
    """The exact shares the model's lineage and the policy give, their payees' names, and what
    the data's part was weighted by."""
    run = work.model.run
    versions = [line.version for line in lineage_versions(run)]
    weights, weighted_by = version_weights(run)
    data_share = Fraction(policy.data_share)
    exact: dict[str, Fraction] = {}
    names: dict[str, str] = {}
    cache: dict[tuple[Any, ...], str] = {}
    unclaimed = Fraction(0)
    for version in versions:
        weight = weights.get(str(version.pk), Fraction(0))
        if not version.rights:
            unclaimed += data_share * weight
            continue
        for entry in version.rights:
            key = _holder_key(version, entry, cache)
            exact[key] = exact.get(key, Fraction(0)) + data_share * weight * Fraction(Decimal(entry["share"]))
            names[key] = entry["name"]
    if not weights:
        unclaimed = data_share
    own = organisation_payee(work.organisation_id)
    exact[PLATFORM] = Fraction(policy.platform_share)
    exact[own] = 1 - data_share - exact[PLATFORM] + unclaimed
    names[PLATFORM], names[own] = "Ledgerline", work.organisation.name
    return exact, names, weighted_by


def _source_split(work: Work, source: Source) -> tuple[dict[str, Fraction], dict[str, str]]:
    if source.work is not None:
        recorded = source.work.manifest.get("manifest", {}).get("royalties") or work_split(source.work)
        payees = recorded["payees"]
        return (
            {p["payee"]: Fraction(Decimal(p["share"])) for p in payees},
            {p["payee"]: p["name"] for p in payees},
        )
    own = organisation_payee(work.organisation_id)
    exact: dict[str, Fraction] = {}
    names = {own: work.organisation.name}
    shares = rights_of(file=source.file) if source.file is not None else []
    for share in shares:
        key = holder_payee(share.holder_id)
        exact[key] = exact.get(key, Fraction(0)) + Fraction(share.share)
        names[key] = share.holder.name
    exact[own] = exact.get(own, Fraction(0)) + 1 - sum(exact.values(), Fraction(0))
    return exact, names


def _source_entry(source: Source, count: int) -> dict[str, Any]:
    part = Decimal((source.share / count).numerator) / Decimal((source.share / count).denominator)
    return {
        "parameter": source.parameter,
        "sha256": source.sha256,
        "kind": "work" if source.work is not None else "recording",
        "work": str(source.work.pk) if source.work is not None else None,
        "share": decimal_text(round(part, SHARE_PLACES)),
    }


def decimal_text(value: Decimal) -> str:
    """0.3, never 3E-1 or 0.300000000000."""
    return format(value.normalize(), "f")


def split_shares(split: dict[str, Any]) -> dict[str, Decimal]:
    return {p["payee"]: Decimal(p["share"]) for p in split["payees"]}
