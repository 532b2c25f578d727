"""Splits to the cent: they add up exactly, nobody is off by more than a cent, and the rule
that places the leftover cents is the documented one."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerline.royalties.money import SplitError, split


@st.composite
def shares(draw: st.DrawFn) -> dict[str, Decimal]:
    """2 to 12 payees with shares of up to 8 decimal places summing to exactly 1."""
    count = draw(st.integers(2, 12))
    weights = draw(st.lists(st.integers(1, 10**8), min_size=count, max_size=count))
    total = sum(weights)
    values = [(Decimal(w) / Decimal(total)).quantize(Decimal("1e-8")) for w in weights]
    values[-1] = Decimal(1) - sum(values[:-1])
    if any(v <= 0 for v in values):  # a tiny weight rounds to a zero share, which no split accepts
        values = [Decimal(1) / 2, Decimal(1) / 2]
    return {f"payee-{i:02d}": v for i, v in enumerate(values)}


@given(shares(), st.integers(-(10**12), 10**12), st.sampled_from(["EUR", "USD", "JPY", "KWD"]))
def test_a_split_adds_up_exactly_and_nobody_is_off_by_a_minor_unit(
    parts: dict[str, Decimal], minor: int, currency: str
) -> None:
    places = {"JPY": 0, "KWD": 3}.get(currency, 2)
    amount = Decimal(minor).scaleb(-places)
    result = split(amount, parts, currency)
    assert sum(result.values(), Decimal(0)) == amount
    unit = Decimal(1).scaleb(-places)
    for payee, value in result.items():
        assert abs(value - amount * parts[payee]) < unit
        assert value == value.quantize(unit)
    assert split(-amount, parts, currency) == {payee: -value for payee, value in result.items()}


def test_leftover_cents_go_to_the_largest_remainders_then_by_payee() -> None:
    thirds = {"b": Decimal("0.3333"), "a": Decimal("0.3333"), "c": Decimal("0.3334")}
    # 1.00 EUR: exact 33.33, 33.33, 33.34 cents; floors 33 + 33 + 33 = 99; the cent goes to c (0.34).
    assert split(Decimal("1.00"), thirds, "EUR") == {"b": Decimal("0.33"), "a": Decimal("0.33"), "c": Decimal("0.34")}
    halves = {"b": Decimal("0.5"), "a": Decimal("0.5")}
    # 0.01 EUR: both remainders are 0.5; the tie goes to "a".
    assert split(Decimal("0.01"), halves, "EUR") == {"b": Decimal("0.00"), "a": Decimal("0.01")}
    assert split(Decimal("7"), halves, "JPY") == {"b": Decimal("3"), "a": Decimal("4")}


@pytest.mark.parametrize(
    ("amount", "parts", "currency", "message"),
    [
        (Decimal("1.00"), {"a": Decimal("0.5"), "b": Decimal("0.4")}, "EUR", "sum to 0.9, not exactly 1"),
        (Decimal("1.00"), {"a": Decimal("1.5"), "b": Decimal("-0.5")}, "EUR", "positive Decimal"),
        (Decimal("1.00"), {"a": 1}, "EUR", "positive Decimal"),
        (Decimal("1.001"), {"a": Decimal(1)}, "EUR", "more than 2 decimal places"),
        (Decimal("1.5"), {"a": Decimal(1)}, "JPY", "more than 0 decimal places"),
        (Decimal("1.00"), {"a": Decimal(1)}, "euro", "not an ISO 4217 currency code"),
        (Decimal("NaN"), {"a": Decimal(1)}, "EUR", "finite Decimal"),
        (Decimal("1.00"), {}, "EUR", "at least one payee"),
    ],
)
def test_what_cannot_be_split_is_refused_with_why(
    amount: Decimal, parts: dict[str, Decimal], currency: str, message: str
) -> None:
    with pytest.raises(SplitError, match=message):
        split(amount, parts, currency)  # type: ignore[arg-type]
