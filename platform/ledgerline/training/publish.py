"""A trained run's model published: its weights stored and hashed, its checkpoint signed in the
model-signing format, pinned to IPFS and its weights hash anchored on chain; each step once."""

from django.db import transaction

from ledgerline.datasets.services import blob_store
from ledgerline.ledger.client import Ledger
from ledgerline.ledger.services import dataset_anchor, model_anchor, signing_keys_publish
from ledgerline.provenance.canonical import canonical_json
from ledgerline.provenance.services import audit_append, signing_key_active
from ledgerline.storage.client import ipfs_connect
from ledgerline.storage.shared import content_published
from ledgerline.training.checkpoints import checkpoint_folder
from ledgerline.training.models import ModelArtifact, TrainingRun
from ledgerline.training.selectors import anchored_roots
from ledgerline.training.signing import SIGNATURE, folder_sign
from ledgerline_verify.checks import datasets_commitment


def model_publish(*, run: TrainingRun) -> ModelArtifact:
    """Store, sign, pin and anchor the run's checkpoint; each step once."""
    folder = checkpoint_folder(run)
    artifact = ModelArtifact.objects.filter(run=run).select_related("blob").first()
    if artifact is None:
        with open(folder / "model.safetensors", "rb") as weights:
            blob = blob_store(weights)
        artifact = ModelArtifact.objects.create(run=run, name=f"{run.name} ({run.config['model']})", blob=blob)
    if not artifact.signature:
        key = signing_key_active(organisation=run.organisation)
        bundle = folder_sign(folder, key_id=key.key_id)
        with transaction.atomic():
            artifact.signature, artifact.key_id = bundle, key.key_id
            artifact.save(update_fields=["signature", "key_id", "updated_at"])
            audit_append(
                organisation=run.organisation,
                actor=None,
                action="model.sign",
                obj=artifact,
                data={"weights_sha256": artifact.blob.sha256, "key_id": key.key_id},
            )
    elif not (folder / SIGNATURE).is_file():
        (folder / SIGNATURE).write_bytes(canonical_json(artifact.signature))
    if not artifact.cid:
        added = ipfs_connect().add_path(folder)
        content_published(added.cid)
        artifact.cid = str(added.cid)
        artifact.save(update_fields=["cid", "updated_at"])
    if artifact.anchored_at is None:
        ledger = Ledger.connect()
        signing_keys_publish(organisation=run.organisation)  # the key model.sig is checked with
        roots = anchored_roots(run)  # what it inherited from a pretrained model too
        for root in roots:
            dataset_anchor(ledger=ledger, merkle_root=root, manifest_uri=f"ipfs://{artifact.cid}/config.json")
        artifact.anchored_at = model_anchor(
            ledger=ledger,
            weights_sha256=artifact.blob.sha256,
            datasets_commitment=datasets_commitment(roots),
            manifest_uri=f"ipfs://{artifact.cid}",
        )
        artifact.save(update_fields=["anchored_at", "updated_at"])
    return artifact
