"""Semantic versions and the ranges a variant's ``extends:`` may name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koordrules.semver import Range, Version

VERSIONS = ["0.0.3", "0.2.3", "0.2.9", "0.3.0", "1.0.0", "1.2.0", "1.2.9", "1.3.0",
            "1.9.9", "2.0.0", "2.0.0-rc.1", "1.5.0-rc.1"]


def test_versions_order_numerically_and_prereleases_come_first() -> None:
    ordered = sorted(["1.10.0", "1.2.0", "1.2.0-rc.2", "1.2.0-rc.10", "1.2.0-alpha"],
                     key=Version.parse)
    assert ordered == ["1.2.0-alpha", "1.2.0-rc.2", "1.2.0-rc.10", "1.2.0", "1.10.0"]


@pytest.mark.parametrize("text", ["1.0", "01.0.0", "v1.0.0", "1.0.0.0", ""])
def test_a_malformed_version_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="semantic version"):
        Version.parse(text)


@pytest.mark.parametrize(("rng", "best"), [
    ("1.2.0", "1.2.0"),
    ("=1.2.0", "1.2.0"),
    ("^1.0.0", "1.9.9"),
    ("^1.2.5", "1.9.9"),
    ("~1.2.0", "1.2.9"),
    ("^0.2.3", "0.2.9"),
    ("^0.0.3", "0.0.3"),
    (">=1.0.0,<2.0.0", "1.9.9"),
    (">=1.0.0 <1.3.0", "1.2.9"),
    (">= 1.0.0, < 1.2.9", "1.2.0"),
    (">1.9.9", "2.0.0"),
    ("<=1.2.0", "1.2.0"),
])
def test_a_range_picks_the_highest_matching_release(rng: str, best: str) -> None:
    assert str(Range.parse(rng).best(VERSIONS)) == best


def test_a_range_with_no_match_gives_none() -> None:
    assert Range.parse("^3.0.0").best(VERSIONS) is None


def test_prereleases_match_only_a_range_naming_a_prerelease_of_that_version() -> None:
    assert not Range.parse("^1.0.0").matches("1.5.0-rc.1")
    assert not Range.parse("<2.0.0").matches("2.0.0-rc.1")
    assert Range.parse("^1.5.0-rc.1").matches("1.5.0-rc.1")
    assert Range.parse("^1.5.0-rc.1").matches("1.5.0")


def test_exact_is_set_only_for_a_single_version() -> None:
    assert Range.parse("1.2.0").exact == Version.parse("1.2.0")
    assert Range.parse("^1.2.0").exact is None


@pytest.mark.parametrize("text", ["", "^", ">=1.0", "1.x", "~>1.0.0", ">=1.0.0,,abc"])
def test_a_malformed_range_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        Range.parse(text)


versions = st.builds(lambda a, b, c: f"{a}.{b}.{c}", *(st.integers(0, 12),) * 3)


@settings(max_examples=200, deadline=None)
@given(versions, versions)
def test_caret_means_same_major_at_least_the_version(base: str, other: str) -> None:
    b, o = Version.parse(base), Version.parse(other)
    if b.major:
        same = o.major == b.major
    elif b.minor:
        same = (o.major, o.minor) == (0, b.minor)
    else:
        same = o.core == b.core
    expected = o >= b and same
    assert Range.parse("^" + base).matches(o) == expected


@settings(max_examples=200, deadline=None)
@given(versions, versions)
def test_tilde_means_same_major_and_minor_at_least_the_version(base: str, other: str) -> None:
    b, o = Version.parse(base), Version.parse(other)
    expected = o >= b and (o.major, o.minor) == (b.major, b.minor)
    assert Range.parse("~" + base).matches(o) == expected
