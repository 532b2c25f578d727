import pytest

from ledgerline.royalties.isrc import InvalidIsrc, isrc_clean, isrc_format, isrc_make


@pytest.mark.parametrize("value", ["USRC17607839", "US-RC1-76-07839", "isrc us-rc1-76-07839", " GBAYE0601498 "])
def test_isrcs_are_read_in_any_usual_spelling(value: str) -> None:
    assert len(isrc_clean(value)) == 12
    assert isrc_format(value).count("-") == 3


@pytest.mark.parametrize("value", ["", "USRC1760783", "USRC176078390", "U1RC17607839", "USRC1A607839", "US_RC1_76"])
def test_what_is_not_an_isrc_is_refused_with_its_shape(value: str) -> None:
    with pytest.raises(InvalidIsrc, match="CC-XXX-YY-NNNNN"):
        isrc_clean(value)


def test_an_isrc_is_made_from_the_registrant_code_and_a_designation() -> None:
    assert isrc_format(isrc_make(country="GB", registrant="LL1", year=2026, designation=42)) == "GB-LL1-26-00042"
    with pytest.raises(InvalidIsrc, match="five digits"):
        isrc_make(country="GB", registrant="LL1", year=2026, designation=100_000)
