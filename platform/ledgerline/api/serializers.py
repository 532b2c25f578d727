"""The base of every input serializer."""

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

# The JSON type each kind of field takes. DRF would also take 0 for "0", "5" for 5 and "yes" for
# true: a body that says otherwise than the schema is refused, not guessed at.
_JSON_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...], str], ...] = (
    (serializers.BooleanField, (bool,), "true or false"),
    (serializers.CharField, (str,), "a string"),
    (serializers.IntegerField, (int,), "a whole number"),
)


def flag(value: Any) -> bool | None:
    """true or false: JSON's, or in a form or a query the words, in any case; None for anything
    else (DRF's yes, on, 1 and their kin are not taken, as the schema does not offer them)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


class FlagField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        value = flag(data)
        if value is None:
            self.fail("invalid", input=data)
        return value


class Input(serializers.Serializer[Any]):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):  # JSON: forms carry only text
            wrong = {
                name: [f"must be {what}"]
                for name, field in self.fields.items()
                for kind, types, what in _JSON_TYPES
                if isinstance(field, kind)
                and data.get(name) is not None
                and (not isinstance(data[name], types) or (types == (int,) and isinstance(data[name], bool)))
            }
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)
