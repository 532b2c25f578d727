"""International Standard Recording Codes (ISO 3901): CC-XXX-YY-NNNNN.

CC is the country (two letters), XXX the registrant (three letters or digits), YY the last two
digits of the year of reference and NNNNN the designation code. Stored compact (12 characters,
upper case); shown with hyphens.
"""

import re

ISRC = re.compile(r"^([A-Z]{2})([A-Z0-9]{3})([0-9]{2})([0-9]{5})$")


# What isrc_clean accepts, for the API's schema: any case, hyphens anywhere, the "ISRC" prefix optional.
ISRC_PATTERN = r"^\s*([Ii][Ss][Rr][Cc])?\s*-*([A-Za-z]-*){2}([A-Za-z0-9]-*){3}([0-9]-*){7}\s*$"


class InvalidIsrc(ValueError):
    pass


def isrc_clean(value: str) -> str:
    """The compact form of ``value``, with or without hyphens or the "ISRC" prefix, or InvalidIsrc."""
    compact = value.strip().upper().replace("-", "") if isinstance(value, str) else ""
    if len(compact) > 12 and compact.startswith("ISRC"):  # the prefix, not an Icelandic IS-RC.. code
        compact = compact.removeprefix("ISRC").strip()
    if not (compact.isascii() and ISRC.match(compact)):
        raise InvalidIsrc(
            f"{value!r} is not an ISRC: 12 characters, CC-XXX-YY-NNNNN (country, registrant, year, designation)"
        )
    return compact


def isrc_format(value: str) -> str:
    match = ISRC.match(isrc_clean(value))
    assert match is not None
    return "-".join(match.groups())


def isrc_make(*, country: str, registrant: str, year: int, designation: int) -> str:
    """An ISRC from its parts; the organisation's registrant code and its next designation."""
    if not 0 <= designation <= 99_999:
        raise InvalidIsrc(f"the designation code {designation} does not fit in five digits")
    return isrc_clean(f"{country}{registrant}{year % 100:02d}{designation:05d}")
