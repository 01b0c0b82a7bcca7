"""``client.users``: end users, their entitlements, tags, segments and play sessions."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._errors import BadRequestError, ConflictError, ValidationError
from .._transport import Operation, Transport
from ..models import (
    UNSET,
    EntitlementInput,
    EntitlementResult,
    EntitlementResults,
    EntitlementSuccess,
    LoginToken,
    OfferEntitlement,
    OfferEntitlementList,
    PasswordSet,
    PlaySession,
    PlaySessionList,
    PlaySessionRevocation,
    UnsetType,
    User,
    UserCreate,
    UserEnvelope,
    UserId,
    UserLookup,
    UserPatch,
)
from ..models._validate import (
    validate_email,
    validate_entitlement_inputs,
    validate_non_empty,
    validate_password,
    validate_play_session_id,
    validate_user_create,
    validate_user_patch,
)
from ._base import Created, Resource, decoder, ignore_body

__all__ = [
    "EntitlementCreation",
    "OfferOutcome",
    "UserEntitlements",
    "UserPlaySessions",
    "UserSegments",
    "UserTags",
    "Users",
]

_U = "/partner/users/{userId}"
# Looking a user up changes nothing.
_LOOKUP = Operation("users.lookup", "POST", "/partner/users/lookup", retry_safe=True)
# Safe to resend: a retry that meets 409 is resolved by looking the e-mail up.
_CREATE = Operation("users.create", "POST", "/partner/users", retry_safe=True)
# A second login token is as good as the first.
_AUTH = Operation("users.auth", "POST", f"{_U}/auth", retry_safe=True)
_LOGOUT_ALL = Operation(
    "users.logout_all_devices", "POST", f"{_U}/logout-all-devices", retry_safe=False
)
_SET_PASSWORD = Operation("users.set_password", "PUT", f"{_U}/password")
_GET = Operation("users.get", "GET", _U)
# Setting the same fields twice gives the same user.
_PATCH = Operation("users.patch", "PATCH", _U, retry_safe=True)
_DELETE = Operation("users.delete", "DELETE", _U)
_ENTITLEMENTS = Operation("entitlements.list", "GET", f"{_U}/entitlements")
# Safe to resend: an offer entitled by an earlier attempt comes back as "already".
_ENTITLE = Operation("entitlements.create", "POST", f"{_U}/entitlements", retry_safe=True)
_UNENTITLE = Operation("entitlements.delete", "DELETE", f"{_U}/entitlements/{{offerId}}")
_TAG_ADD = Operation("users.tags.add", "PUT", f"{_U}/tags/{{tag}}")
_TAG_REMOVE = Operation("users.tags.remove", "DELETE", f"{_U}/tags/{{tag}}")
_SEGMENTS = Operation("users.segments.list", "GET", f"{_U}/segments")
_SEGMENT_ADD = Operation("users.segments.add", "PUT", f"{_U}/segments/{{segmentId}}")
_SEGMENT_REMOVE = Operation("users.segments.remove", "DELETE", f"{_U}/segments/{{segmentId}}")
_PLAY_SESSIONS = Operation("play_sessions.list", "GET", f"{_U}/play-sessions")
# Revoking a revoked session leaves it revoked.
_REVOKE = Operation(
    "play_sessions.revoke", "PATCH", f"{_U}/play-sessions/{{playSessionId}}", retry_safe=True
)

_ALREADY_CODES = frozenset({"offerEntitledAlready", "packEntitledAlready"})

_user_id = decoder(UserId)
_user = decoder(UserEnvelope)
_token = decoder(LoginToken)
_entitlements = decoder(OfferEntitlementList)
_results = decoder(EntitlementResults)
_segments = decoder(list[str])
_sessions = decoder(PlaySessionList)
_revocation = decoder(PlaySessionRevocation)


def _uid(user_id: str) -> str:
    return validate_non_empty(user_id, "user_id")


@dataclass(frozen=True, slots=True)
class OfferOutcome:
    """What happened to one offer of an entitlement request.

    ``status`` is ``"created"`` (entitled by this call), ``"already"`` (the user was entitled
    before, for example by an earlier attempt of the same call) or ``"failed"``;
    ``entitlement`` holds the platform's record when known; ``failure_message`` the platform's
    explanation of a failure (human-readable only).
    """

    offer_id: str
    status: Literal["created", "already", "failed"]
    entitlement: EntitlementSuccess | OfferEntitlement | None = None
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class EntitlementCreation:
    """The answer of ``users.entitlements.create``: one :class:`OfferOutcome` per offer.

    ``status`` is the HTTP status that decided it: 201 (all created), 207 (multi-status) or
    400 (every offer was already entitled).
    """

    status: int
    outcomes: list[OfferOutcome] = field(default_factory=list)

    @property
    def created(self) -> list[OfferOutcome]:
        return [o for o in self.outcomes if o.status == "created"]

    @property
    def already(self) -> list[OfferOutcome]:
        return [o for o in self.outcomes if o.status == "already"]

    @property
    def failed(self) -> list[OfferOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


class UserEntitlements(Resource):
    """``client.users.entitlements``: the offers a user is entitled to."""

    __slots__ = ()

    async def list(self, user_id: str) -> list[OfferEntitlement]:
        """``GET /partner/users/{userId}/entitlements``: the user's entitlements."""
        response = await self._call(_ENTITLEMENTS, [_uid(user_id)], decode=_entitlements)
        return response.data.entitlements or []

    async def create(
        self,
        user_id: str,
        entitlements: Sequence[EntitlementInput],
        *,
        now: _dt.datetime | None = None,
    ) -> EntitlementCreation:
        """``POST /partner/users/{userId}/entitlements``: entitle a user to one or more offers.

        Each :class:`~magine_async.models.EntitlementInput` names an ``offer_id`` and may set
        ``purchased_at`` (aware, in the past), ``expiry`` (aware, in the future) and a
        ``message``. A 207 multi-status answer is not an error: the result lists an outcome per
        offer. Offers the user already holds come back as ``"already"``, found by reading the
        user's entitlements when the platform reports failures (never by matching messages),
        which is also what makes a retried request safe. ``now`` overrides the clock used to
        check ``purchased_at``/``expiry``.
        """
        uid = _uid(user_id)
        items = list(entitlements)
        if not items:
            raise ValidationError("entitlements", "must contain at least one item")
        validate_entitlement_inputs(items, now=now)
        try:
            response = await self._call(_ENTITLE, [uid], decode=_results, json=items)
        except BadRequestError as exc:
            if exc.error_code not in _ALREADY_CODES:
                raise
            held = await self._held(uid)
            if not all(item.offer_id in held for item in items):
                raise
            outcomes = [
                OfferOutcome(item.offer_id, "already", held[item.offer_id]) for item in items
            ]
            return EntitlementCreation(exc.status, outcomes)
        results = response.data.results
        held = await self._held(uid) if any(not r.ok for r in results) else {}
        return EntitlementCreation(response.status, [_outcome(r, held) for r in results])

    async def delete(self, user_id: str, offer_id: str) -> None:
        """``DELETE /partner/users/{userId}/entitlements/{offerId}``: remove an entitlement."""
        validate_non_empty(offer_id, "offer_id")
        await self._call(_UNENTITLE, [_uid(user_id), offer_id], decode=ignore_body)

    async def _held(self, user_id: str) -> dict[str, OfferEntitlement]:
        return {e.offer_id: e for e in await self.list(user_id)}


def _outcome(result: EntitlementResult, held: dict[str, OfferEntitlement]) -> OfferOutcome:
    if result.ok:
        return OfferOutcome(result.offer_id, "created", result.success_output)
    existing = held.get(result.offer_id)
    if existing is not None:
        return OfferOutcome(result.offer_id, "already", existing, result.failure_message)
    return OfferOutcome(result.offer_id, "failed", None, result.failure_message)


class UserTags(Resource):
    """``client.users.tags``: free-form tags on a user."""

    __slots__ = ()

    async def add(self, user_id: str, tag: str) -> None:
        """``PUT /partner/users/{userId}/tags/{tag}``: tag a user."""
        validate_non_empty(tag, "tag")
        await self._call(_TAG_ADD, [_uid(user_id), tag], decode=ignore_body)

    async def remove(self, user_id: str, tag: str) -> None:
        """``DELETE /partner/users/{userId}/tags/{tag}``: remove a tag from a user."""
        validate_non_empty(tag, "tag")
        await self._call(_TAG_REMOVE, [_uid(user_id), tag], decode=ignore_body)


class UserSegments(Resource):
    """``client.users.segments``: the segments a user belongs to."""

    __slots__ = ()

    async def list(self, user_id: str) -> list[str]:
        """``GET /partner/users/{userId}/segments``: the ids of the user's segments."""
        return (await self._call(_SEGMENTS, [_uid(user_id)], decode=_segments)).data

    async def add(self, user_id: str, segment_id: str) -> None:
        """``PUT /partner/users/{userId}/segments/{segmentId}``: add the user to a segment."""
        validate_non_empty(segment_id, "segment_id")
        await self._call(_SEGMENT_ADD, [_uid(user_id), segment_id], decode=ignore_body)

    async def remove(self, user_id: str, segment_id: str) -> None:
        """``DELETE /partner/users/{userId}/segments/{segmentId}``: remove from a segment."""
        validate_non_empty(segment_id, "segment_id")
        await self._call(_SEGMENT_REMOVE, [_uid(user_id), segment_id], decode=ignore_body)


class UserPlaySessions(Resource):
    """``client.users.play_sessions``: the user's latest play sessions."""

    __slots__ = ()

    async def list(self, user_id: str) -> list[PlaySession]:
        """``GET /partner/users/{userId}/play-sessions``: the latest play sessions."""
        return (await self._call(_PLAY_SESSIONS, [_uid(user_id)], decode=_sessions)).data.items

    async def revoke(self, user_id: str, play_session_id: str) -> bool:
        """``PATCH /partner/users/{userId}/play-sessions/{playSessionId}``: revoke a session.

        The document defines path parameters and headers only: the request has no body (and
        so no ``Content-Type``). Returns the ``revoked`` flag the platform answers with.
        """
        validate_play_session_id(play_session_id)
        response = await self._call(_REVOKE, [_uid(user_id), play_session_id], decode=_revocation)
        return response.data.revoked


class Users(Resource):
    """``client.users``: create, read, change and delete end users."""

    __slots__ = ("entitlements", "play_sessions", "segments", "tags")

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self.entitlements = UserEntitlements(transport)
        self.tags = UserTags(transport)
        self.segments = UserSegments(transport)
        self.play_sessions = UserPlaySessions(transport)

    async def lookup(self, email: str) -> str:
        """``POST /partner/users/lookup``: the id of the user with this e-mail address.

        Raises :class:`~magine_async.NotFoundError` when there is none.
        """
        body = UserLookup(email=validate_email(email))
        return (await self._call(_LOOKUP, decode=_user_id, json=body)).data.user_id

    async def create(
        self,
        *,
        email: str,
        country_code: str,
        name: str | UnsetType = UNSET,
        locale: str | UnsetType = UNSET,
        birth_date: _dt.date | UnsetType = UNSET,
        zip_code: str | UnsetType = UNSET,
        gender: str | UnsetType = UNSET,
        exist_ok: bool = False,
    ) -> Created[str]:
        """``POST /partner/users``: create a user; returns its id and whether it is new.

        ``country_code`` is ISO 3166-1 alpha-2 in either case (sent upper-case). The call is
        safe to retry: if a retried request meets 409 (its first attempt created the user),
        the user is looked up by e-mail and returned with ``created=False``. A 409 on the
        first attempt means the e-mail was taken before: it raises
        :class:`~magine_async.ConflictError`, unless ``exist_ok`` is true, which resolves any
        409 by lookup.
        """
        body = validate_user_create(
            UserCreate(
                email=email,
                country_code=country_code,
                name=name,
                locale=locale,
                birth_date=birth_date,
                zip_code=zip_code,
                gender=gender,
            )
        )
        try:
            response = await self._call(_CREATE, decode=_user_id, json=body)
        except ConflictError as exc:
            if exist_ok or exc.attempts > 1:
                return Created(await self.lookup(body.email), created=False)
            raise
        return Created(response.data.user_id, created=True)

    async def get(self, user_id: str) -> User:
        """``GET /partner/users/{userId}``: one user."""
        return (await self._call(_GET, [_uid(user_id)], decode=_user)).data.user

    async def patch(
        self,
        user_id: str,
        *,
        email: str | UnsetType = UNSET,
        name: str | UnsetType = UNSET,
        locale: str | UnsetType = UNSET,
        zip_code: str | UnsetType = UNSET,
        gender: str | UnsetType = UNSET,
    ) -> None:
        """``PATCH /partner/users/{userId}``: change the fields given; the others stay."""
        body = validate_user_patch(
            UserPatch(email=email, name=name, locale=locale, zip_code=zip_code, gender=gender)
        )
        await self._call(_PATCH, [_uid(user_id)], decode=ignore_body, json=body)

    async def delete(self, user_id: str) -> None:
        """``DELETE /partner/users/{userId}``: delete a user; active entitlements are cancelled."""
        await self._call(_DELETE, [_uid(user_id)], decode=ignore_body)

    async def login_token(self, user_id: str) -> LoginToken:
        """``POST /partner/users/{userId}/auth``: a login JWT for the Magine Client API.

        The token (default lifetime 72 hours) is a secret: its repr hides it.
        """
        response = await self._call(_AUTH, [_uid(user_id)], decode=_token)
        return response.data

    async def logout_all_devices(self, user_id: str) -> None:
        """``POST /partner/users/{userId}/logout-all-devices``: invalidate all user JWTs.

        Not resent once the request may have reached the platform.
        """
        await self._call(_LOGOUT_ALL, [_uid(user_id)], decode=ignore_body)

    async def set_password(self, user_id: str, password: str) -> None:
        """``PUT /partner/users/{userId}/password``: set the user's password.

        The password never appears in an error or a log line.
        """
        body = PasswordSet(password=validate_password(password))
        await self._call(
            _SET_PASSWORD, [_uid(user_id)], decode=ignore_body, json=body, secrets=(password,)
        )
