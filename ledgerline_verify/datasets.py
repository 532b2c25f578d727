"""What the model learned from: the datasets the manifest names are the ones the model was
anchored with (the datasets link), no consent to train on their files was withdrawn (the consent
link), and the work's licence stays within theirs (the licence link)."""

import datetime
from fractions import Fraction
from typing import Any

import rfc8785

from ledgerline_verify.chain import Anchors, Chain
from ledgerline_verify.content import sha256_hex
from ledgerline_verify.licences import Conditions, exceeded
from ledgerline_verify.verdict import Broken, Check, Link, Unchecked, iso

TRAINING_USES = ("cawg.ai_generative_training", "cawg.ai_training")


def datasets_commitment(roots: list[str]) -> str:
    """The commitment a model is anchored with: SHA-256 of its dataset roots' sorted JCS list."""
    return sha256_hex(rfc8785.dumps(sorted(roots)))


def datasets_check(manifest: dict[str, Any], *, anchors: Anchors) -> Check:
    """Every dataset root is anchored, and they are the ones the model (and each pretrained model
    it continues) was anchored with."""
    datasets = manifest.get("datasets") or []
    roots = [str(d.get("merkle_root", "")) for d in datasets]
    link = Link("datasets")
    with link as details:
        details["roots"] = roots
        unanchored = [r for r in roots if not anchors.dataset_anchored_at(r)]
        if unanchored:
            raise Broken(f"The dataset root {unanchored[0]} is not anchored on the Ledgerline contract.")
        weights = str((manifest.get("model") or {}).get("weights_sha256", ""))
        commitment = anchors.model_commitment(weights)
        if commitment is None:
            raise Unchecked("The model's anchoring event was not found, so its datasets cannot be compared.")
        if commitment != datasets_commitment(roots):
            raise Broken("The model was anchored with other datasets than the manifest names.")
        for base in (manifest.get("model") or {}).get("bases") or []:
            named = str(base.get("weights_sha256", ""))
            inherited = [str(r) for r in base.get("merkle_roots") or []]
            anchored_with = anchors.model_commitment(named)
            if anchored_with is None:
                raise Unchecked(f"The pretrained model {named}'s anchoring event was not found.")
            if anchored_with != datasets_commitment(inherited):
                raise Broken(
                    f"The pretrained model {named} was anchored with other datasets than the manifest names for it."
                )
            missing = sorted(set(inherited) - set(roots))
            if missing:
                raise Broken(
                    f"The manifest leaves out the dataset root {missing[0]}, which the pretrained model "
                    f"{named} was trained on."
                )
        details["reason"] = f"{len(roots)} dataset root(s) anchored: the ones the model was anchored with"
    return link.check


def consent_check(
    manifest: dict[str, Any], *, chain: Chain, anchors: Anchors, model_config: dict[str, Any] | None
) -> Check:
    """No consent to train on a file the model trained on was withdrawn on chain. Withdrawals are
    read from the chain every time (``chain``): they can come at any time."""
    link = Link("consent")
    with link as details:
        details["training_mining"] = manifest.get("training_mining")
        trained = _trained_files(model_config or {})
        weights = str(manifest["model"]["weights_sha256"])
        model_anchored = anchors.model_anchored_at(weights)
        for dataset in manifest.get("datasets") or []:
            root = str(dataset.get("merkle_root", ""))
            for file, at in chain.consent_withdrawals(root):
                if trained is not None and file not in trained:
                    continue  # left out of training: nothing to answer for
                when = "after" if at >= model_anchored else "before"
                raise Broken(
                    f"Consent to train on the file {file} of {dataset.get('dataset')} "
                    f"v{dataset.get('number')} was withdrawn at {iso(at)}, {when} the model was "
                    f"anchored at {iso(model_anchored)}."
                )
        for use in TRAINING_USES:
            entry = (manifest.get("training_mining") or {}).get(use)
            if entry:
                details["reason"] = f"no withdrawal recorded on chain; {use}: {entry.get('use')} at signing"
                break
        else:
            details["reason"] = "no withdrawal of consent recorded on chain for its datasets"
    return link.check


def licence_check(manifest: dict[str, Any]) -> Check:
    """The work's licence conditions stay within every dataset's on the day it was signed."""
    link = Link("licence")
    with link as details:
        licence = str(manifest.get("licence", ""))
        details["licence"] = licence
        try:
            work = Conditions.from_json(manifest["licence_conditions"])
            signed_on = datetime.date.fromisoformat(str(manifest["signed_at"])[:10])
        except (KeyError, TypeError, ValueError):
            raise Unchecked("The manifest does not record the work's licence conditions.") from None
        for dataset in manifest.get("datasets") or []:
            if "licence_conditions" not in dataset:
                raise Unchecked(
                    "The manifest predates recorded dataset conditions; its licence cannot be checked again from it."
                )
            terms = dataset["licence_conditions"]
            found = exceeded(
                work,
                licence,
                str(dataset.get("licence", "")),
                Conditions.from_json(terms) if terms else None,
                Fraction(str(dataset.get("revenue_received", "0"))),
                signed_on,
            )
            if found:
                condition, reason = found[0]
                raise Broken(
                    f"The work's licence ({licence}) goes beyond {dataset.get('dataset')} "
                    f"v{dataset.get('number')} ({dataset.get('licence')}) on {condition}: it {reason}."
                )
        details["reason"] = f"{licence} stays within every dataset's conditions on {signed_on}"
    return link.check


def _trained_files(config: dict[str, Any]) -> set[str] | None:
    """The SHA-256 of each file a symbolic checkpoint says it trained on; None if it does not say."""
    pieces = (config.get("data") or {}).get("pieces")
    if not isinstance(pieces, list):
        return None
    return {str(p.get("sha256")) for p in pieces if isinstance(p, dict)}
