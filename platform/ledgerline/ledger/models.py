"""The chain side: deployments, every transaction sent, and the token of each content hash."""

from django.db import models

from ledgerline.models import BaseModel


class TxStatus(models.TextChoices):
    PENDING = "pending"  # signed and recorded; maybe sent, maybe mined, not yet confirmed
    CONFIRMED = "confirmed"
    FAILED = "failed"  # mined and reverted, or refused by the node


class ChainTransaction(BaseModel):
    """A transaction, recorded signed *before* it is sent: after a crash it is sent again
    byte for byte (the same hash and nonce), so it can take effect at most once."""

    chain_id = models.PositiveBigIntegerField()
    sender = models.CharField(max_length=42)
    nonce = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=32)  # deploy, mint, anchor_dataset, anchor_model
    payload = models.JSONField(default=dict)
    tx_hash = models.CharField(max_length=66, unique=True)
    raw = models.TextField(help_text="the signed transaction, hex (public once sent)")
    status = models.CharField(max_length=16, choices=TxStatus.choices, default=TxStatus.PENDING)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta(BaseModel.Meta):
        constraints = [models.UniqueConstraint(fields=["chain_id", "sender", "nonce"], name="one_tx_per_nonce")]

    def __str__(self) -> str:
        return f"{self.kind} {self.tx_hash[:10]} ({self.status})"


class ContractDeployment(BaseModel):
    chain_id = models.PositiveBigIntegerField()
    name = models.CharField(max_length=64)
    address = models.CharField(max_length=42)
    sources_sha256 = models.CharField(max_length=64)
    transaction = models.ForeignKey(ChainTransaction, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta(BaseModel.Meta):
        constraints = [models.UniqueConstraint(fields=["chain_id", "name"], name="one_deployment_per_chain")]

    def __str__(self) -> str:
        return f"{self.name} at {self.address} on {self.chain_id}"


class Token(BaseModel):
    """The token minted for a content hash, as the chain reported it."""

    chain_id = models.PositiveBigIntegerField()
    contract = models.CharField(max_length=42)
    content_sha256 = models.CharField(max_length=64)
    token_id = models.PositiveBigIntegerField()
    transaction = models.ForeignKey(ChainTransaction, null=True, on_delete=models.PROTECT, related_name="tokens")

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "contract", "content_sha256"], name="one_token_per_content"),
            models.UniqueConstraint(fields=["chain_id", "contract", "token_id"], name="unique_token_id"),
        ]

    def __str__(self) -> str:
        return f"token {self.token_id} for {self.content_sha256[:12]}"


class ChainAccount(BaseModel):
    """The next nonce of a sending account, locked while a transaction is signed, so two
    processes never sign two transactions with one nonce."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    next_nonce = models.PositiveBigIntegerField(default=0)

    class Meta(BaseModel.Meta):
        constraints = [models.UniqueConstraint(fields=["chain_id", "address"], name="one_row_per_account")]

    def __str__(self) -> str:
        return f"{self.address} on {self.chain_id}"
