"""Releases: an organisation's released works grouped as one product, in order, each with its
ISRC, so that it can be sent to distributors as a DDEX ERN message (royalties.ern)."""

import datetime
import re
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Prefetch, QuerySet

from ledgerline.accounts.models import Organisation
from ledgerline.errors import LedgerlineError
from ledgerline.provenance.services import audit_append
from ledgerline.royalties.models import Isrc, Release, ReleaseTrack
from ledgerline.works.models import Work, WorkStatus

MAX_TRACKS = 100
RELEASED = (WorkStatus.MINTED, WorkStatus.CONFIRMED)
DPID = re.compile(r"^PADPIDA[A-Za-z0-9]{1,33}$")  # the ERN schema's pattern, within the column's 40
# Characters XML 1.0 cannot carry (C0 controls but tab, CR and LF; surrogates; U+FFFE and U+FFFF),
# and in a one-line name the tab, CR and LF too.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
NOT_IN_A_NAME = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def release_list(*, organisation_ids: list[Any]) -> QuerySet[Release]:
    """The organisations' releases, each with its tracks in order (``release.tracks.all()``)."""
    tracks = ReleaseTrack.objects.select_related("work__isrc").order_by("sequence")
    return (
        Release.objects.filter(organisation_id__in=organisation_ids)
        .select_related("organisation")
        .prefetch_related(Prefetch("tracks", queryset=tracks))
    )


def release_tracks(release: Release) -> list[ReleaseTrack]:
    """The release's works in order, each with what its ERN entry reads."""
    return list(release.tracks.select_related("work__isrc", "work__organisation").order_by("sequence"))


def name_clean(value: str, field: str) -> str:
    """``value`` without the spaces around it; refused when empty or when it holds a character a
    one-line name cannot (a control character, which XML 1.0 could not carry either)."""
    text = value.strip()
    if not text:
        raise LedgerlineError(f"{field} may not be empty.", fields={field: ["empty"]})
    if NOT_IN_A_NAME.search(text):
        raise LedgerlineError(
            f"{field} holds a control character; a name is one line of printable text.",
            fields={field: ["control character"]},
        )
    return text


def icpn_clean(value: str) -> str:
    """A UPC (12 digits) or EAN (13) whose GS1 check digit, the last, is right; "" for none."""
    code = value.strip().replace(" ", "").replace("-", "")
    if not code:
        return ""
    if not (code.isascii() and code.isdigit() and len(code) in (12, 13)):
        raise LedgerlineError(f"{value!r} is not a UPC or EAN: 12 or 13 digits.", fields={"icpn": ["12 or 13 digits"]})
    body = [int(digit) for digit in code[:-1]]
    total = sum(digit * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != int(code[-1]):
        raise LedgerlineError(
            f"{code} is not a UPC or EAN: its check digit (the last) does not match the others.",
            fields={"icpn": ["wrong check digit"]},
        )
    return code


def dpid_clean(value: str) -> str:
    """A DDEX Party ID (PADPIDA followed by letters and digits), or "" for none."""
    code = value.strip()
    if code and not DPID.match(code):
        raise LedgerlineError(
            f"{value!r} is not a DDEX Party ID: PADPIDA followed by letters and digits, as DDEX issues it.",
            fields={"sender_dpid": ["PADPIDA..."]},
        )
    return code


def released_work(organisation: Organisation, work_id: Any) -> Work:
    """One of the organisation's works that may go on a release: released (its token minted),
    signed, with an ISRC; a 400 naming what is missing otherwise."""
    work = (
        Work.objects.filter(organisation=organisation, pk=work_id).select_related("isrc").first()
        if _is_uuid(work_id)
        else None
    )
    if work is None:
        raise LedgerlineError(f"{organisation.name} has no work {work_id}.", fields={"works": ["not found"]})
    if work.status not in RELEASED or work.token_id is None:
        raise LedgerlineError(
            f"{work.title} ({work.pk}) is not released yet (it is {work.status}): only minted works go on a release.",
            fields={"works": ["not released"]},
        )
    if not work.manifest.get("manifest"):
        raise LedgerlineError(
            f"{work.title} ({work.pk}) has no signed manifest, which its ERN entry is read from.",
            fields={"works": ["not signed"]},
        )
    if not Isrc.objects.filter(work=work).exists():
        raise LedgerlineError(
            f"{work.title} ({work.pk}) has no ISRC: assign one with POST /api/v1/works/{work.pk}/isrc/.",
            fields={"works": ["no ISRC"]},
        )
    return work


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@transaction.atomic
def release_create(
    *,
    organisation: Organisation,
    created_by: User,
    title: str,
    works: Sequence[Any],
    label_name: str = "",
    icpn: str = "",
    release_date: datetime.date | None = None,
    sender_dpid: str = "",
) -> Release:
    """A release of the organisation's released works, in the order given. The label defaults to
    the organisation's name."""
    if not works:
        raise LedgerlineError("A release holds at least one work.", fields={"works": ["empty"]})
    if len(works) > MAX_TRACKS:
        raise LedgerlineError(f"A release holds at most {MAX_TRACKS} works.", fields={"works": ["too many"]})
    if len({str(w) for w in works}) != len(works):
        raise LedgerlineError("A work appears on a release once.", fields={"works": ["repeated"]})
    found = [released_work(organisation, work_id) for work_id in works]
    release = Release.objects.create(
        organisation=organisation,
        title=name_clean(title, "title"),
        label_name=name_clean(label_name, "label_name") if label_name.strip() else organisation.name,
        icpn=icpn_clean(icpn),
        release_date=release_date,
        sender_dpid=dpid_clean(sender_dpid),
        created_by=created_by,
    )
    ReleaseTrack.objects.bulk_create(
        ReleaseTrack(release=release, work=work, sequence=i) for i, work in enumerate(found, start=1)
    )
    audit_append(
        organisation=organisation,
        actor=created_by,
        action="release.create",
        obj=release,
        data={"title": release.title, "icpn": release.icpn, "works": [str(work.pk) for work in found]},
    )
    return release
