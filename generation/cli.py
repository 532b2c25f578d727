"""Command-line options from a config dataclass: one --flag per field, typed by its default."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection
from dataclasses import fields
from typing import Any


def options_add(parser: argparse.ArgumentParser, config: Any, *, prefix: str = "", skip: Collection[str] = ()) -> None:
    for item in fields(config):
        if item.name in skip:
            continue
        default = getattr(config, item.name)
        flag, dest = "--" + (prefix + item.name).replace("_", "-"), prefix + item.name
        if isinstance(default, bool):
            parser.add_argument(flag, dest=dest, default=default, action=argparse.BooleanOptionalAction)
        else:
            convert = _convert(default, str(item.type))
            parser.add_argument(flag, dest=dest, default=default, type=convert, help=f"default {default}")


def _convert(default: Any, annotation: str) -> Callable[[str], Any]:
    """int or float by the default's type; a None default goes by the annotation ("float | None")."""
    kind = annotation.split(" ")[0] if default is None else type(default).__name__
    return {"int": int, "float": float}.get(kind, str)
