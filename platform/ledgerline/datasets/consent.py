"""Training consent, in the shape of C2PA's `cawg.training-mining` assertion.

Each use is `allowed`, `notAllowed` or `constrained` (with a note saying how):
    {"cawg.ai_training": {"use": "allowed"},
     "cawg.data_mining": {"use": "constrained", "constraint_info": "non-commercial only"}, ...}
A use that is not stated is `notAllowed`: consent is given, never assumed.
"""

from typing import Any

USES = ("cawg.ai_training", "cawg.ai_generative_training", "cawg.ai_inference", "cawg.data_mining")
VALUES = ("allowed", "notAllowed", "constrained")


def consent_validate(value: Any) -> dict[str, dict[str, str]]:
    """The consent in normal form, or ValueError with a readable reason."""
    if not isinstance(value, dict):
        raise ValueError('consent must be an object keyed by use, e.g. {"cawg.ai_training": {"use": "allowed"}}')
    result: dict[str, dict[str, str]] = {}
    for key, entry in value.items():
        use = key if key.startswith("cawg.") else f"cawg.{key}"
        if use not in USES:
            raise ValueError(f"unknown use {key!r}; the uses are {', '.join(USES)}")
        if isinstance(entry, str):
            entry = {"use": entry}
        if not isinstance(entry, dict) or entry.get("use") not in VALUES:
            raise ValueError(f"{key}: 'use' must be one of {', '.join(VALUES)}")
        normal = {"use": entry["use"]}
        if entry["use"] == "constrained":
            info = str(entry.get("constraint_info", "")).strip()
            if not info:
                raise ValueError(f"{key}: a constrained use needs a constraint_info saying how")
            if "\x00" in info:
                raise ValueError(f"{key}: constraint_info contains a NUL character")
            normal["constraint_info"] = info
        result[use] = normal
    return result


def consent_use(consent: dict[str, dict[str, str]], use: str) -> str:
    return consent.get(use, {}).get("use", "notAllowed")


def training_use(consent: dict[str, dict[str, str]]) -> str:
    """Generative training is what a run does: its own entry decides, else `ai_training`'s."""
    if "cawg.ai_generative_training" in consent:
        return consent_use(consent, "cawg.ai_generative_training")
    return consent_use(consent, "cawg.ai_training")
