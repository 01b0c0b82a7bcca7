"""Partner user management: users, their login tokens and play sessions.

Entitlements have their own module (:mod:`.entitlements`); segments and tags carry no body
(``GET /partner/users/{userId}/segments`` answers a plain JSON array of segment ids:
decode it as ``list[str]``).
"""

from __future__ import annotations

import datetime as _dt

from msgspec import UNSET, UnsetType

from ._base import Model

__all__ = [
    "LoginToken",
    "PasswordSet",
    "PlaySession",
    "PlaySessionList",
    "PlaySessionRevocation",
    "User",
    "UserCreate",
    "UserEnvelope",
    "UserId",
    "UserLookup",
    "UserPatch",
]


class UserLookup(Model, kw_only=True):
    """Body of ``POST /partner/users/lookup``: find a user by e-mail address."""

    email: str


class UserId(Model, kw_only=True):
    """Answer of the user lookup (200) and of the user creation (201): ``{"userId": ...}``."""

    user_id: str


class UserCreate(Model, kw_only=True):
    """Body of ``POST /partner/users`` (409 when the e-mail address is taken).

    ``email`` is the login of the user in Magine Pro clients and receives e-mail send-outs;
    ``country_code`` is an ISO 3166-1 alpha-2 code (case-insensitive, upper case preferred);
    ``birth_date`` is sent as a date only (``2001-02-23``).
    """

    email: str
    country_code: str
    name: str | UnsetType = UNSET
    """Free-form name, used in the applications and when communicating with the user."""
    locale: str | UnsetType = UNSET
    birth_date: _dt.date | UnsetType = UNSET
    zip_code: str | UnsetType = UNSET
    gender: str | UnsetType = UNSET


class User(Model, kw_only=True):
    """A user as returned by ``GET /partner/users/{userId}``."""

    user_id: str
    country: str
    """ISO 3166-1 alpha-2 country code."""
    created_timestamp: int | float | None = None
    """Epoch seconds."""
    locale: str | None = None
    email: str | None = None
    name: str | None = None
    zip_code: str | None = None
    gender: str | None = None


class UserEnvelope(Model, kw_only=True):
    """Answer of ``GET /partner/users/{userId}``: ``{"user": {...}}``."""

    user: User


class UserPatch(Model, kw_only=True):
    """Body of ``PATCH /partner/users/{userId}`` (answer 204). Sent flat, not wrapped.

    Only the fields given are sent; ``UNSET`` ones are left as they are.
    """

    email: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    locale: str | UnsetType = UNSET
    zip_code: str | UnsetType = UNSET
    gender: str | UnsetType = UNSET


class PasswordSet(Model, kw_only=True):
    """Body of ``PUT /partner/users/{userId}/password``. Its repr hides the password."""

    password: str

    def __repr__(self) -> str:
        return "PasswordSet(password='***')"


class LoginToken(Model, kw_only=True):
    """Answer of ``POST /partner/users/{userId}/auth`` and ``POST /reseller/users/{userId}/auth``.

    ``token`` is a JWT proving the user is signed in (default TTL 72 hours), to be sent to the
    Magine Pro Client API as ``Authorization: Bearer <token>``. Its repr hides the token.
    """

    token: str

    def __repr__(self) -> str:
        return "LoginToken(token='***')"


class PlaySession(Model, kw_only=True):
    """A play session of a user (``id`` is a UUID)."""

    id: str
    revoked: bool


class PlaySessionList(Model, kw_only=True):
    """Answer of ``GET /partner/users/{userId}/play-sessions``: the latest play sessions."""

    items: list[PlaySession]


class PlaySessionRevocation(Model, kw_only=True):
    """Answer of ``PATCH /partner/users/{userId}/play-sessions/{playSessionId}``."""

    revoked: bool
