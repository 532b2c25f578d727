"""A training run's config: the family it names (generation.families) and that family's settings,
each checked against its bounds."""

from typing import Any

from generation.families import DEFAULT, FAMILIES
from generation.family import Family, SettingError, settings_clean
from ledgerline.errors import LedgerlineError
from ledgerline.provenance.canonical import json_field_check


def _settings() -> list[str]:
    """Every family's settings, for the message that lists them."""
    return list(dict.fromkeys(s.name for family in FAMILIES.values() for s in family.settings))


def family_of(config: dict[str, Any]) -> Family:
    """The family of a run's (cleaned) config; a 400 when that family is no longer registered."""
    name = config.get("model", DEFAULT)
    if name not in FAMILIES:
        raise LedgerlineError(
            f"This run's model family {name!r} is not installed here; the families are {', '.join(FAMILIES)}."
        )
    return FAMILIES[name]


def training_config_clean(config: dict[str, Any]) -> dict[str, Any]:
    """The config with its values checked, or a 400 naming the bad field."""
    json_field_check("config", config)
    settings = _settings()
    unknown = sorted(set(config) - set(settings) - {"model"})
    if unknown:
        raise LedgerlineError(
            f"config: unknown setting {unknown[0]!r}; the settings are model, {', '.join(settings)}.",
            fields={"config": [f"unknown setting {unknown[0]!r}"]},
        )
    name = config.get("model", DEFAULT)
    if not isinstance(name, str) or name not in FAMILIES:
        raise LedgerlineError(f"config: model must be one of {', '.join(FAMILIES)}.", fields={"config": ["model"]})
    family = FAMILIES[name]
    own = {s.name for s in family.settings}
    wrong = [k for k in config if k not in own and k != "model"]
    if wrong:
        raise LedgerlineError(f"config: {wrong[0]} does not apply to a {name} model.", fields={"config": [wrong[0]]})
    try:
        return {"model": name, **settings_clean(family, config)}
    except SettingError as exc:
        raise LedgerlineError(f"config: {exc}.", fields={"config": [exc.name]}) from None
