"""The rows the bulk helpers take, and their keys.

A row's :meth:`key` is its identity across runs: the journal records it, shards split on it,
and two rows with one key in one run are done once. It is built from the row's natural key,
never from its position: ``u:<user id>`` or ``e:<e-mail, lower-cased>``, then ``|`` and the
row's offer ids, sorted and joined with commas (for example ``u:ABC123|svod-monthly``).

Each part is percent-encoded (:func:`encode_key_part`): ``%``, the separators ``|`` and ``,``,
``#`` (which starts the key of an invalid row) and control characters become ``%XX``; every
other character is kept, so plain ids stay readable. Two different rows never share a key:
offers ``["gold,silver"]`` give ``u:U1|gold%2Csilver``, offers ``["gold", "silver"]`` give
``u:U1|gold,silver``; user ``U1|x`` with offer ``y`` gives ``u:U1%7Cx|y``. The key depends on
nothing but the row (not on the machine, the platform or the run).

Computing the key validates the row, so a bad row fails before anything is sent. Every
identifier is bounded (the API documents no maximum; these are the SDK's):
:data:`MAX_ID_LENGTH` (1,024 characters, and 2,048 once percent-encoded) for a user id, an
offer id or a subtitle asset id, which go into URLs; :data:`MAX_EMAIL_LENGTH` (254
characters, RFC 5321) for an e-mail address; :data:`MAX_OFFERS` (100) offers in one row.
A language is three letters (``^[a-z]{3}$``, as documented).

A record of the input that could not be made into a row at all is an :class:`InvalidRow`: its
key raises (it fails as ``invalidRow``), and it is journaled under
``#<line>:<digest of the raw record>`` (:attr:`InvalidRow.journal_key`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from .._errors import ValidationError
from ..models import EntitlementInput, SubtitleType, UserCreate
from ..models._validate import (
    validate_country_code,
    validate_email,
    validate_entitlement_inputs,
    validate_language,
    validate_non_empty,
    validate_user_create,
)

__all__ = [
    "MAX_EMAIL_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_OFFERS",
    "EntitleRow",
    "InvalidRow",
    "ResellerEntitleRow",
    "RevokeRow",
    "SubtitleRow",
    "encode_key_part",
    "invalid_row_key",
    "user_key",
]

MAX_ID_LENGTH: Final = 1024
_MAX_URL_PART: Final = 2048  # percent-encoded; a URL stays well under servers' 8 KB line
"""Longest user id, offer id (partner or reseller) or subtitle asset id a row may name, in
characters. The API documents no maximum; ids travel in URL paths, which servers and proxies
commonly cap at a few kilobytes, so the SDK refuses longer ones before sending anything."""
MAX_EMAIL_LENGTH: Final = 254
"""Longest e-mail address, in characters: the limit RFC 5321 sets on a forward path (256
octets, angle brackets included)."""
MAX_OFFERS: Final = 100
"""Most offers one row may name (an SDK maximum: it bounds the row's key and request)."""
DIGEST_LENGTH: Final = 16
"""Hexadecimal digits of the SHA-256 digest in the key of an invalid row."""

_ESCAPE: Final = re.compile(r"[%|,#\x00-\x1f\x7f]")


def encode_key_part(text: str) -> str:
    """One part of a key: ``%``, ``|``, ``,``, ``#`` and control characters percent-encoded
    (``%7C``); every other character is kept as it is, so plain ids stay readable."""
    return _ESCAPE.sub(lambda match: f"%{ord(match.group()):02X}", text)


def invalid_row_key(position: int, raw: str | bytes) -> str:
    """The key of a record that is not a valid row: ``#<position>:<digest>``, the position (its
    line in the input) and the first :data:`DIGEST_LENGTH` hexadecimal digits of the SHA-256
    of its raw text (UTF-8, line ending removed). The same record at the same place has the
    same key in every run; a changed or moved record has another."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "backslashreplace")
    data = data.rstrip(b"\r\n")
    return f"#{position}:{hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]}"


def _bounded(value: object, field: str, limit: int = MAX_ID_LENGTH) -> str:
    text = validate_non_empty(value, field)
    if len(text) > limit:
        raise ValidationError(field, f"must be at most {limit:,} characters, not {len(text):,}")
    # What goes into the URL is the UTF-8 bytes, percent-encoded (up to 9 characters for one
    # character of text): bound that too, so no id makes a URL a server refuses.
    encoded = len(quote(text, safe=""))
    if encoded > _MAX_URL_PART:
        raise ValidationError(
            field, f"must be at most {_MAX_URL_PART:,} characters once URL-encoded, not {encoded:,}"
        )
    return text


def _email(value: object, field: str = "email") -> str:
    if isinstance(value, str) and len(value) > MAX_EMAIL_LENGTH:
        raise ValidationError(
            field, f"must be at most {MAX_EMAIL_LENGTH} characters, not {len(value):,}"
        )
    return validate_email(value, field)


def _user_key(user_id: str | None, email: str | None) -> str:
    if user_id is not None:  # it wins over an e-mail given too
        return "u:" + encode_key_part(_bounded(user_id, "user_id"))
    if email is None:
        raise ValidationError("user_id", "required, or email to look the user up")
    return "e:" + encode_key_part(_email(email).lower())


def _offer_ids(offers: Sequence[str], field: str = "offers") -> str:
    if not offers:
        raise ValidationError(field, "must name at least one offer")
    if len(offers) > MAX_OFFERS:
        raise ValidationError(field, f"must name at most {MAX_OFFERS} offers, not {len(offers):,}")
    for i, offer in enumerate(offers):
        _bounded(offer, f"{field}[{i}]")
    ids = sorted(offers)
    if len(set(ids)) != len(ids):
        raise ValidationError(field, "must not name an offer twice")
    return ",".join(encode_key_part(offer) for offer in ids)


def _inputs(offers: Sequence[EntitlementInput | str] | str) -> tuple[EntitlementInput, ...]:
    if isinstance(offers, str):
        offers = [offers]
    return tuple(
        o if isinstance(o, EntitlementInput) else EntitlementInput(offer_id=o) for o in offers
    )


def _names(offers: Sequence[str] | str) -> tuple[str, ...]:
    return (offers,) if isinstance(offers, str) else tuple(offers)


_USER_OFFERS_FIELDS = ("offers", "user_id", "email", "country_code", "name")


@dataclass(frozen=True, slots=True, init=False)
class _UserOffers:
    """A user (``user_id``, or else ``email``, with ``country_code`` and ``name`` for creating
    it) and the offers to act on."""

    offers: tuple[Any, ...]
    user_id: str | None
    email: str | None
    country_code: str | None
    name: str | None

    def _set(
        self,
        offers: tuple[Any, ...],
        user_id: str | None,
        email: str | None,
        country_code: str | None = None,
        name: str | None = None,
    ) -> None:
        values = (offers, user_id, email, country_code, name)
        for field, value in zip(_USER_OFFERS_FIELDS, values, strict=True):
            object.__setattr__(self, field, value)

    def _user(self, *, country_required: bool = False) -> str:
        user = _user_key(self.user_id, self.email)
        if self.user_id is None and country_required and self.country_code is None:
            raise ValidationError("country_code", "required to provision a user by e-mail")
        if self.country_code is not None:
            validate_country_code(self.country_code)
        return user


class EntitleRow(_UserOffers):
    """Entitle one user to one or more offers (``client.bulk.entitle``).

    The user is ``user_id``, or ``email`` (looked up; created with ``country_code`` and
    ``name`` when missing, if ``country_code`` is given). ``offers`` are offer ids or
    :class:`~magine_async.models.EntitlementInput` (with ``purchased_at``, ``expiry``,
    ``message``). Key: ``u:<user_id>|<offer ids>`` or ``e:<email>|<offer ids>`` (parts
    percent-encoded, see the module). Ids are at most :data:`MAX_ID_LENGTH` characters, the
    e-mail :data:`MAX_EMAIL_LENGTH`, the offers :data:`MAX_OFFERS`.
    """

    __slots__ = ()
    offers: tuple[EntitlementInput, ...]

    def __init__(
        self,
        offers: Sequence[EntitlementInput | str] | str,
        *,
        user_id: str | None = None,
        email: str | None = None,
        country_code: str | None = None,
        name: str | None = None,
    ) -> None:
        self._set(_inputs(offers), user_id, email, country_code, name)

    def key(self, *, now: _dt.datetime | None = None) -> str:
        """The row's key; raises :class:`~magine_async.ValidationError` for a bad row."""
        user = self._user()
        ids = _offer_ids([o.offer_id for o in self.offers])  # bounded before the deeper checks
        validate_entitlement_inputs(list(self.offers), "offers", now=now)
        return f"{user}|{ids}"


class ResellerEntitleRow(_UserOffers):
    """Entitle one user to reseller offers (``client.bulk.reseller_entitle``).

    The user is ``user_id`` (provisioned by this reseller), or ``email`` with
    ``country_code``: the user is provisioned (created, or claimed when it exists) first.
    Key: ``u:<user_id>|<reseller offer ids>`` or ``e:<email>|<reseller offer ids>`` (parts
    percent-encoded; bounds as for :class:`EntitleRow`).
    """

    __slots__ = ()
    offers: tuple[str, ...]

    def __init__(
        self,
        offers: Sequence[str] | str,
        *,
        user_id: str | None = None,
        email: str | None = None,
        country_code: str | None = None,
        name: str | None = None,
    ) -> None:
        self._set(_names(offers), user_id, email, country_code, name)

    def key(self) -> str:
        return f"{self._user(country_required=True)}|{_offer_ids(self.offers)}"


class RevokeRow(_UserOffers):
    """Remove one user's entitlements to one or more offers
    (``client.bulk.revoke_entitlements``). The user is ``user_id`` or ``email`` (looked up).
    Key: ``u:<user_id>|<offer ids>`` or ``e:<email>|<offer ids>`` (parts percent-encoded;
    bounds as for :class:`EntitleRow`)."""

    __slots__ = ()
    offers: tuple[str, ...]

    def __init__(
        self, offers: Sequence[str] | str, *, user_id: str | None = None, email: str | None = None
    ) -> None:
        self._set(_names(offers), user_id, email)

    def key(self) -> str:
        return f"{self._user()}|{_offer_ids(self.offers)}"


def user_key(row: UserCreate) -> str:
    """The key of a ``provision_users`` row (a :class:`~magine_async.models.UserCreate`):
    ``e:<email, lower-cased, percent-encoded>``; validates the row (the e-mail at most
    :data:`MAX_EMAIL_LENGTH` characters)."""
    if isinstance(row, UserCreate):
        _email(row.email)
    validate_user_create(row)
    return "e:" + encode_key_part(row.email.lower())


@dataclass(frozen=True, slots=True)
class SubtitleRow:
    """Upload one subtitle track to a vod (``client.bulk.upload_subtitles``).

    ``data`` is the SubRip file: bytes, text, or a path (read when the row runs).
    Key: ``<asset_id>|<language>|<subtitle_type>`` (the track it replaces; the asset id
    percent-encoded, at most :data:`MAX_ID_LENGTH` characters).
    """

    asset_id: str
    language: str
    data: bytes | str | os.PathLike[str]
    subtitle_type: str = "normal"

    def key(self) -> str:
        asset = _bounded(self.asset_id, "asset_id")
        if isinstance(self.language, str) and len(self.language) > 3:
            raise ValidationError("language", "must be three lower-case letters (ISO 639-2)")
        validate_language(self.language, "language")
        if self.subtitle_type != SubtitleType.NORMAL.value:
            raise ValidationError("subtitle_type", "must be normal (the only upload type)")
        return f"{encode_key_part(asset)}|{self.language}|{self.subtitle_type}"

    @property
    def kind(self) -> SubtitleType:
        return SubtitleType(self.subtitle_type)


class InvalidRow:
    """A record of the input that could not be made into a row (a reader gives it in the row's
    place): ``line`` is where it is in the input, ``reason`` what is wrong, ``raw`` its text as
    read. Its :meth:`key` raises (the row fails as ``invalidRow``, with ``line <n>: <reason>``);
    the engine journals it under :attr:`journal_key`, so a re-run of the same input meets it
    again as "failed in an earlier run", and the record fixed gets its natural key."""

    __slots__ = ("line", "raw", "reason")

    def __init__(self, line: int, reason: str, *, raw: str | bytes = "") -> None:
        self.line = line
        self.reason = reason
        self.raw = raw

    def __repr__(self) -> str:
        return f"<InvalidRow line {self.line}: {self.reason[:80]!r}>"

    @property
    def journal_key(self) -> str:
        """``#<line>:<digest of raw>`` (:func:`invalid_row_key`)."""
        return invalid_row_key(self.line, self.raw)

    def key(self) -> str:
        raise ValidationError(f"line {self.line}", self.reason)
