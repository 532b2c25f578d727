"""Money split to the cent, exactly.

Shares are Decimals that sum to exactly 1. An amount is split in whole minor units (cents for
EUR and USD, none for JPY): each payee first gets the floor of its exact share, then the cents
left over go one each to the payees with the largest fractional remainders, ties broken by the
payee's key in ascending order (the largest-remainder method, also called Hamilton's). The
payees' amounts therefore add up to the amount exactly, every payee is within one minor unit
of its exact share, and the same inputs always give the same split.
"""

import math
from collections.abc import Mapping
from decimal import Decimal, localcontext
from fractions import Fraction

# ISO 4217 minor units for the currencies whose exponent is not 2.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3, "JOD": 3}


PRECISION = 200


class SplitError(ValueError):
    pass


def minor_units(currency: str) -> int:
    code = currency.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise SplitError(f"{currency!r} is not an ISO 4217 currency code")
    return MINOR_UNITS.get(code, 2)


def shares_check(shares: Mapping[str, Decimal]) -> None:
    """Refuse shares that are not positive Decimals summing to exactly 1."""
    if not shares:
        raise SplitError("a split needs at least one payee")
    for payee, share in shares.items():
        if not isinstance(share, Decimal) or not share.is_finite() or share <= 0:
            raise SplitError(f"{payee}: a share must be a positive Decimal, not {share!r}")
    with localcontext() as context:
        context.prec = PRECISION
        total = sum(shares.values(), Decimal(0))
    if total != 1:
        raise SplitError(f"the shares sum to {total}, not exactly 1")


def split(amount: Decimal, shares: Mapping[str, Decimal], currency: str) -> dict[str, Decimal]:
    """``amount`` (in the currency's major unit, e.g. 12.34 EUR) split by ``shares``; negative
    amounts (reversals) split the same way with the sign turned, so a reversal undoes its sale."""
    shares_check(shares)
    places = minor_units(currency)
    unit = Decimal(1).scaleb(-places)
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise SplitError(f"the amount must be a finite Decimal, not {amount!r}")
    if amount != amount.quantize(unit):
        raise SplitError(f"{amount} {currency} has more than {places} decimal places")
    if amount < 0:
        return {payee: -value for payee, value in split(-amount, shares, currency).items()}
    cents = int(amount.scaleb(places))
    units = apportion(cents, {payee: Fraction(share) for payee, share in shares.items()})
    return {payee: Decimal(units[payee]).scaleb(-places).quantize(unit) for payee in shares}


def apportion(units: int, weights: Mapping[str, Fraction]) -> dict[str, int]:
    """``units`` (>= 0) shared by exact ``weights`` summing to 1, by `allocate`."""
    return allocate(units, {key: units * weight for key, weight in weights.items()})


def allocate(units: int, exact: Mapping[str, Fraction]) -> dict[str, int]:
    """``units`` (the exact amounts' sum, rounded) shared so that each key gets the floor of its
    exact amount (in units, of either sign) and the units left over go one each to the largest
    remainders, ties by key ascending. The results add up to ``units``."""
    floors = {key: math.floor(value) for key, value in exact.items()}
    left = units - sum(floors.values())
    if not 0 <= left <= len(exact):
        raise SplitError(f"{units} is not the rounded sum of the amounts")
    for key in sorted(exact, key=lambda k: (-(exact[k] - floors[k]), k))[:left]:
        floors[key] += 1
    return floors
