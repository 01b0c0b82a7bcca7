"""Row keys: unambiguous, readable, stable; every identifier bounded before anything is sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from magine_async import ValidationError
from magine_async.bulk import (
    EntitleRow,
    ResellerEntitleRow,
    RevokeRow,
    SubtitleRow,
    row_key,
    user_key,
)
from magine_async.bulk._rows import (
    MAX_EMAIL_LENGTH,
    MAX_ID_LENGTH,
    MAX_OFFERS,
    encode_key_part,
)
from magine_async.models import EntitlementInput, UserCreate

UUID = "cac10231-b376-4493-b5ad-f27d95d9b8b3"

# -- the reported collisions -------------------------------------------------------------------


@pytest.mark.parametrize("make", [EntitleRow, ResellerEntitleRow, RevokeRow])
def test_an_offer_with_a_comma_is_not_two_offers(make: Callable[..., Any]) -> None:
    one = make(["gold,silver"], user_id="U1")
    two = make(["gold", "silver"], user_id="U1")
    assert one.key() != two.key()


@pytest.mark.parametrize("make", [EntitleRow, ResellerEntitleRow, RevokeRow])
def test_a_bar_in_a_user_id_or_an_offer_does_not_move_the_boundary(
    make: Callable[..., Any],
) -> None:
    assert make(["y"], user_id="U1|x").key() != make(["x|y"], user_id="U1").key()
    assert make(["y"], user_id="U1|x").key() != make(["x", "y"], user_id="U1").key()


def test_an_email_with_separators_is_not_ambiguous() -> None:
    assert (
        EntitleRow(["b"], email="a|x@example.com").key()
        != EntitleRow(["x@example.com|b"], email="a@example.com").key()
    )


def test_an_asset_id_with_a_bar_is_not_ambiguous() -> None:
    a = SubtitleRow("a|eng", "swe", b"")
    b = SubtitleRow("a", "eng", b"")
    assert a.key() != b.key()


def test_plain_keys_stay_readable() -> None:
    assert EntitleRow(["svod-monthly"], user_id="ABC123").key() == "u:ABC123|svod-monthly"
    assert (
        RevokeRow(["b", "a"], email="Jo@Example.com").key() == "e:jo@example.com|a,b"
    )  # sorted, lower-cased
    assert SubtitleRow(UUID, "eng", b"").key() == f"{UUID}|eng|normal"
    assert user_key(UserCreate(email="Jo@Example.com", country_code="SE")) == "e:jo@example.com"
    assert row_key(EntitleRow(["x"], user_id="u")) == "u:u|x"


def test_separators_are_percent_encoded() -> None:
    assert EntitleRow(["gold,silver"], user_id="U1|x").key() == "u:U1%7Cx|gold%2Csilver"
    assert EntitleRow(["100%"], user_id="#1").key() == "u:%231|100%25"
    assert EntitleRow(["a\nb"], user_id="tab\there").key() == "u:tab%09here|a%0Ab"
    assert encode_key_part("plain-ID_1.2:ü") == "plain-ID_1.2:ü"  # unchanged: readable
    assert (
        user_key(UserCreate(email="a|b%c@example.com", country_code="SE"))
        == "e:a%7Cb%25c@example.com"
    )


# -- the properties --------------------------------------------------------------------------

ids = st.text(min_size=1, max_size=12)
plain = st.text(alphabet="abcAB01|,%#:-", min_size=1, max_size=8)  # separators, often
some_ids = st.one_of(ids, plain)
offer_sets = st.lists(some_ids, min_size=1, max_size=4, unique=True)


def _identity(user: tuple[str, str], offers: list[str]) -> tuple[str, str, frozenset[str]]:
    kind, value = user
    return kind, (value.lower() if kind == "e" else value), frozenset(offers)


users = st.one_of(
    st.tuples(st.just("u"), some_ids),
    st.tuples(
        st.just("e"),
        st.builds(
            lambda local, domain: f"{local}@{domain}.com",
            st.text(alphabet="abcAB01|,%#.+", min_size=1, max_size=8),
            st.text(alphabet="abcxyz-", min_size=1, max_size=6),
        ),
    ),
)


def _row(make: Callable[..., Any], user: tuple[str, str], offers: list[str]) -> Any:
    kind, value = user
    extra = {"country_code": "SE"} if make is ResellerEntitleRow else {}
    if kind == "u":
        return make(offers, user_id=value, **extra)
    return make(offers, email=value, **extra)


@pytest.mark.property
@given(
    make=st.sampled_from([EntitleRow, ResellerEntitleRow, RevokeRow]),
    first=st.tuples(users, offer_sets),
    second=st.tuples(users, offer_sets),
)
def test_distinct_user_rows_never_share_a_key(
    make: Callable[..., Any],
    first: tuple[tuple[str, str], list[str]],
    second: tuple[tuple[str, str], list[str]],
) -> None:
    a, b = _row(make, *first), _row(make, *second)
    try:
        ka, kb = a.key(), b.key()
    except ValidationError:
        return  # an invalid row has no natural key
    assert (ka == kb) == (_identity(*first) == _identity(*second))
    # the same row, built again (offers in another order), gives the same key
    user, offers = first
    assert _row(make, user, list(reversed(offers))).key() == ka


@pytest.mark.property
@given(
    first=st.tuples(some_ids, st.sampled_from(["eng", "swe"])),
    second=st.tuples(some_ids, st.sampled_from(["eng", "swe"])),
)
def test_distinct_subtitle_rows_never_share_a_key(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    a, b = SubtitleRow(first[0], first[1], b""), SubtitleRow(second[0], second[1], b"x")
    assert (a.key() == b.key()) == (first == second)
    assert SubtitleRow(first[0], first[1], b"other data").key() == a.key()


@pytest.mark.property
@given(first=users.filter(lambda u: u[0] == "e"), second=users.filter(lambda u: u[0] == "e"))
def test_distinct_users_to_provision_never_share_a_key(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    a = UserCreate(email=first[1], country_code="SE")
    b = UserCreate(email=second[1], country_code="SE", name="other")
    try:
        ka, kb = user_key(a), user_key(b)
    except ValidationError:
        return
    assert (ka == kb) == (first[1].lower() == second[1].lower())


@pytest.mark.property
@given(part=st.text(max_size=30))
def test_an_encoded_part_has_no_separator_and_decodes_back(part: str) -> None:
    from urllib.parse import unquote

    encoded = encode_key_part(part)
    assert not set(encoded) & set("|,#")
    assert all(ord(c) >= 0x20 and c != "\x7f" for c in encoded)
    assert unquote(encoded) == part  # percent-encoding: one way back, so no two parts meet


# -- item 9: bounded identifiers ---------------------------------------------------------------

BIG = "x" * (10 * 1024 * 1024)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (EntitleRow(["svod"], user_id=BIG), "user_id"),
        (EntitleRow([BIG], user_id="u"), "offers[0]"),
        (EntitleRow([EntitlementInput(offer_id=BIG)], user_id="u"), "offers[0]"),
        (EntitleRow(["svod"], email=BIG + "@example.com"), "email"),
        (ResellerEntitleRow(["svod"], user_id=BIG), "user_id"),
        (ResellerEntitleRow([BIG], user_id="u"), "offers[0]"),
        (RevokeRow(["svod"], user_id=BIG), "user_id"),
        (RevokeRow(["a", BIG], email="a@example.com"), "offers[1]"),
        (SubtitleRow(BIG, "eng", b""), "asset_id"),
        (SubtitleRow(UUID, BIG, b""), "language"),
    ],
)
def test_an_oversized_identifier_is_an_invalid_row(row: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        row.key()
    assert caught.value.field == field
    assert len(str(caught.value)) < 200  # the value is not echoed


def test_the_bounds_are_the_documented_ones() -> None:
    assert (MAX_ID_LENGTH, MAX_EMAIL_LENGTH, MAX_OFFERS) == (1024, 254, 100)
    EntitleRow(["o" * MAX_ID_LENGTH], user_id="u" * MAX_ID_LENGTH).key()
    with pytest.raises(ValidationError, match="1,024"):
        EntitleRow(["o"], user_id="u" * (MAX_ID_LENGTH + 1)).key()
    local = "a" * (MAX_EMAIL_LENGTH - len("@example.com"))
    RevokeRow(["o"], email=local + "@example.com").key()
    with pytest.raises(ValidationError, match="254"):
        RevokeRow(["o"], email="a" + local + "@example.com").key()
    with pytest.raises(ValidationError, match="254"):
        user_key(UserCreate(email="a" + local + "@example.com", country_code="SE"))
    RevokeRow([f"o{i}" for i in range(MAX_OFFERS)], user_id="u").key()
    with pytest.raises(ValidationError, match="100"):
        RevokeRow([f"o{i}" for i in range(MAX_OFFERS + 1)], user_id="u").key()


def test_an_entitle_row_key_still_checks_the_dates() -> None:
    past = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ValidationError):
        EntitleRow([EntitlementInput(offer_id="a", expiry=past)], user_id="u").key()


def test_an_id_whose_url_form_is_too_long_is_an_invalid_row() -> None:
    """1,024 characters of text can be 9,216 in a URL: the encoded form is bounded too."""
    from magine_async import ValidationError
    from magine_async.bulk import EntitleRow

    with pytest.raises(ValidationError, match="URL-encoded"):
        EntitleRow(["svod-monthly"], user_id="€" * 1024).key()
    assert EntitleRow(["svod-monthly"], user_id="€" * 200).key()
