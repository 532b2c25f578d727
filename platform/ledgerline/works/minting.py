"""Minting: pinned works minted in batches, one ERC-2981 royalty per batch paid to the split
contract of the batch's payees (works.royalty_receivers), and a batch's token metadata
repointed when another minter took the token ids it was made for."""

import logging
from typing import Any

from django.conf import settings

from ledgerline.faults import fault_point
from ledgerline.ledger.client import Ledger, with_retries
from ledgerline.ledger.services import (
    MINT_BATCH,
    batch_metadata_set,
    contents_mint,
    signing_keys_publish,
    transactions_resume,
    works_contract,
)
from ledgerline.provenance.canonical import canonical_json
from ledgerline.storage.client import ipfs_connect
from ledgerline.works.manifest import token_metadata
from ledgerline.works.models import Work, WorkStatus
from ledgerline.works.royalty_receivers import royalty_receiver, works_recipients
from ledgerline.works.transitions import advance

logger = logging.getLogger(__name__)


def works_mint(*, works: list[Work]) -> None:
    """pinned -> minted, in batches of LEDGERLINE_MINT_BATCH works per transaction. The metadata
    folder holds <tokenId>.json for the ids the chain is expected to give; if another minter took
    them first, confirmation finds out and repoints the batch (`batch_metadata_repair` below)."""
    if not works:
        return
    ledger = Ledger.connect()
    transactions_resume(ledger=ledger)  # a mint sent before a crash settles first
    for organisation in {w.organisation for w in works}:  # so anyone can check the manifests' signatures
        signing_keys_publish(organisation=organisation)
    contract = works_contract(ledger=ledger)
    ipfs = ipfs_connect()
    size = min(settings.LEDGERLINE_MINT_BATCH, MINT_BATCH)  # one transaction per batch
    # A batch has one ERC-2981 royalty and receiver: the works' signed manifests say which,
    # and the payees' wallets where it is paid (works of one model and policy share both).
    recipients = works_recipients(works, platform=ledger.account.address)
    groups = {w.pk: (_resale_bps(w), tuple(sorted(recipients[w.pk].items()))) for w in works}
    batches = []
    for group in sorted(set(groups.values())):
        same = [w for w in works if groups[w.pk] == group]
        batches += [(group, same[start : start + size]) for start in range(0, len(same), size)]
    for (bps, parts), batch in batches:
        new = [
            w
            for w in batch
            if not with_retries(
                contract.functions.tokenOfContent(bytes.fromhex(w.content_sha256)).call, what="token lookup"
            )
        ]
        receiver = royalty_receiver(ledger=ledger, recipients=dict(parts), create=bool(new))
        first = with_retries(contract.functions.totalMinted().call, what="token count") + 1
        folder = {f"{first + i}.json": canonical_json(token_metadata(w)) for i, w in enumerate(new)}
        metadata_cid = str(ipfs.add_directory(folder, name="token metadata").cid) if folder else "unused"
        fault_point("before_mint")
        tokens = contents_mint(
            ledger=ledger,
            content_hashes=[w.content_sha256 for w in batch],
            metadata_cid=metadata_cid,
            to=ledger.account.address,
            royalty_receiver=receiver,
            royalty_bps=bps,
            watermarks={w.content_sha256: mark for w in batch if (mark := _watermark(w))},
        )
        fault_point("after_mint")
        by_hash = {t.content_sha256: t for t in tokens}
        for work in batch:
            token = by_hash[work.content_sha256]
            advance(
                work,
                WorkStatus.PINNED,
                WorkStatus.MINTED,
                token=token,
                audit={"token_id": token.token_id, "contract": token.contract, "chain_id": token.chain_id},
            )


def _watermark(work: Work) -> str | None:
    """The mark in the work's audio, as its signed manifest records it (works signed before
    watermarks have none)."""
    entry = work.manifest.get("manifest", {}).get("watermark")
    return str(entry["payload"]) if entry else None


def _resale_bps(work: Work) -> int:
    royalties = work.manifest.get("manifest", {}).get("royalties")
    return int(royalties["resale_bps"]) if royalties else 0


def batch_metadata_repair(ledger: Any, contract: Any, token_id: int) -> None:
    """Point the batch holding ``token_id`` at a folder made from what the database knows of each
    of its tokens (ERC-4906 tells indexers to refetch)."""
    _, batch = with_retries(contract.functions.batchOf(token_id).call, what="batch lookup")
    first, count = int(batch[3]), int(batch[4])
    works = Work.objects.filter(
        token__chain_id=ledger.chain_id,
        token__contract=contract.address,
        token__token_id__range=(first, first + count - 1),
    ).select_related("token", "model__blob")
    files = {f"{w.token.token_id}.json": canonical_json(token_metadata(w)) for w in works if w.token}
    fixed = str(ipfs_connect().add_directory(files, name="token metadata").cid)
    logger.warning("batch of token %s: metadata folder %s replaced by %s", token_id, batch[5], fixed)
    batch_metadata_set(ledger=ledger, token_id=token_id, metadata_cid=fixed)
