"""The rows the bulk helpers take, and their keys.

A row's :meth:`key` is its identity across runs: the journal records it, shards split on it,
and two rows with one key in one run are done once. It is built from the row's natural key,
never from its position: ``u:<user id>`` or ``e:<e-mail, lower-cased>``, then ``|`` and the
row's offer ids, sorted and joined with commas (for example ``u:ABC123|svod-monthly``).
Computing the key validates the row, so a bad row fails before anything is sent.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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

__all__ = ["EntitleRow", "ResellerEntitleRow", "RevokeRow", "SubtitleRow", "user_key"]


def _user_key(user_id: str | None, email: str | None) -> str:
    if user_id is not None:  # it wins over an e-mail given too
        return "u:" + validate_non_empty(user_id, "user_id")
    if email is None:
        raise ValidationError("user_id", "required, or email to look the user up")
    return "e:" + validate_email(email, "email").lower()


def _offer_ids(offers: Sequence[str], field: str = "offers") -> str:
    if not offers:
        raise ValidationError(field, "must name at least one offer")
    for i, offer in enumerate(offers):
        validate_non_empty(offer, f"{field}[{i}]")
    ids = sorted(offers)
    if len(set(ids)) != len(ids):
        raise ValidationError(field, "must not name an offer twice")
    return ",".join(ids)


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
    ``message``). Key: ``u:<user_id>|<offer ids>`` or ``e:<email>|<offer ids>``.
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
        validate_entitlement_inputs(list(self.offers), "offers", now=now)
        return f"{user}|{_offer_ids([o.offer_id for o in self.offers])}"


class ResellerEntitleRow(_UserOffers):
    """Entitle one user to reseller offers (``client.bulk.reseller_entitle``).

    The user is ``user_id`` (provisioned by this reseller), or ``email`` with
    ``country_code``: the user is provisioned (created, or claimed when it exists) first.
    Key: ``u:<user_id>|<reseller offer ids>`` or ``e:<email>|<reseller offer ids>``.
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
    Key: ``u:<user_id>|<offer ids>`` or ``e:<email>|<offer ids>``."""

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
    ``e:<email, lower-cased>``; validates the row."""
    validate_user_create(row)
    return "e:" + row.email.lower()


@dataclass(frozen=True, slots=True)
class SubtitleRow:
    """Upload one subtitle track to a vod (``client.bulk.upload_subtitles``).

    ``data`` is the SubRip file: bytes, text, or a path (read when the row runs).
    Key: ``<asset_id>|<language>|<subtitle_type>`` (the track it replaces).
    """

    asset_id: str
    language: str
    data: bytes | str | os.PathLike[str]
    subtitle_type: str = "normal"

    def key(self) -> str:
        validate_non_empty(self.asset_id, "asset_id")
        validate_language(self.language, "language")
        if self.subtitle_type != SubtitleType.NORMAL.value:
            raise ValidationError("subtitle_type", "must be normal (the only upload type)")
        return f"{self.asset_id}|{self.language}|{self.subtitle_type}"

    @property
    def kind(self) -> SubtitleType:
        return SubtitleType(self.subtitle_type)
