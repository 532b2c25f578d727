"""Reads for royalties."""

from dataclasses import dataclass
from typing import Any

from django.db import connection

from ledgerline.accounts.models import Organisation
from ledgerline.royalties.models import Isrc
from ledgerline.works.models import Work


@dataclass(frozen=True)
class ReleasedWorks:
    """An organisation's released works by each name a usage line may give them, as the ids the
    database takes (so the usage import can put them into rows as they are)."""

    by_isrc: dict[str, Any]
    by_token: dict[int, Any]  # None where a token id is on two contracts: it names no one work
    by_hash: dict[str, Any]


def released_works(*, organisation: Organisation) -> ReleasedWorks:
    """The organisation's works that have a token, by ISRC, token id and content hash."""
    pk = Work._meta.pk
    assert pk is not None
    db_id: dict[Any, Any] = {}
    by_hash: dict[str, Any] = {}
    by_token: dict[int, Any] = {}
    rows = Work.objects.filter(organisation=organisation, token__isnull=False).values_list(
        "pk", "content_sha256", "token__token_id"
    )
    for work_id, content, token_id in rows:
        value = pk.get_db_prep_value(work_id, connection)
        db_id[work_id] = value
        by_hash[content] = value
        by_token[token_id] = None if token_id in by_token else value
    by_isrc = {
        code: db_id[work_id]
        for code, work_id in Isrc.objects.filter(work__organisation=organisation).values_list("code", "work_id")
        if work_id in db_id
    }
    return ReleasedWorks(by_isrc=by_isrc, by_token=by_token, by_hash=by_hash)
