"""The chain from the command line: deploy the contracts (works and split factory), mint, resume, and show state."""

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledgerline.errors import LedgerlineError
from ledgerline.ledger import services, splits
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.models import ChainTransaction, Token


class Command(BaseCommand):
    help = "deploy | mint HASH… --cid CID | revoke-certificate SHA256 | resume | status"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["deploy", "mint", "revoke-certificate", "resume", "status"])
        parser.add_argument(
            "hashes", nargs="*", help="content SHA-256s (hex), for mint; a certificate's, for revoke-certificate"
        )
        parser.add_argument("--cid", help="metadata folder CID, for mint")
        parser.add_argument("--to", help="token owner (default: the platform's account)")
        parser.add_argument("--royalty-bps", type=int, default=0)

    def handle(
        self,
        *args: Any,
        action: str,
        hashes: list[str],
        cid: str | None,
        to: str | None,
        royalty_bps: int,
        **options: Any,
    ) -> None:
        try:
            ledger = Ledger.connect()
            if action == "deploy":
                deployment = services.contract_deploy(ledger=ledger)
                self.stdout.write(f"LedgerlineWorks at {deployment.address} on chain {deployment.chain_id}")
                factory = splits.split_factory_deploy(ledger=ledger)
                self.stdout.write(f"LedgerlineSplits at {factory.address} on chain {factory.chain_id}")
            elif action == "mint":
                if not hashes or not cid:
                    raise CommandError("mint needs content hashes and --cid")
                owner = to or ledger.account.address
                tokens = services.contents_mint(
                    ledger=ledger,
                    content_hashes=hashes,
                    metadata_cid=cid,
                    to=owner,
                    royalty_receiver=owner,
                    royalty_bps=royalty_bps,
                )
                for token in tokens:
                    self.stdout.write(f"{token.content_sha256} -> token {token.token_id}")
            elif action == "revoke-certificate":
                if len(hashes) != 1:
                    raise CommandError("revoke-certificate needs the SHA-256 of one certificate's DER")
                revoked = services.certificate_revoke(ledger=ledger, certificate_sha256=hashes[0])
                self.stdout.write(f"certificate {hashes[0]} revoked on chain at {revoked}")
            elif action == "resume":
                settled = services.transactions_resume(ledger=ledger)
                self.stdout.write(f"settled {len(settled)} pending transactions")
            else:
                contract = services.works_contract(ledger=ledger)
                self.stdout.write(
                    json.dumps(
                        {
                            "chain_id": ledger.chain_id,
                            "account": ledger.account.address,
                            "contract": contract.address,
                            "minted_on_chain": contract.functions.totalMinted().call(),
                            "transactions": {
                                s: ChainTransaction.objects.filter(status=s).count()
                                for s in ("pending", "confirmed", "failed")
                            },
                            "tokens": Token.objects.count(),
                        }
                    )
                )
        except LedgerlineError as exc:
            raise CommandError(exc.message) from None
