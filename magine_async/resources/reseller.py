"""``client.reseller``: the Reseller API (a subset of the platform for third parties)."""

from __future__ import annotations

from .._errors import BadRequestError
from .._transport import Operation, Transport, text_body
from ..models import UNSET, LoginToken, ProvisionedUser, ResellerUserCreate, UnsetType
from ..models._validate import validate_non_empty, validate_reseller_user_create
from ._base import Created, Resource, decoder, ignore_body

__all__ = ["Reseller", "ResellerEntitlements", "ResellerUsers"]

_TEST = Operation("reseller.test", "GET", "/reseller/test")
# Provisioning answers 200 for a user that already exists: resending is harmless.
_PROVISION = Operation("reseller.users.provision", "POST", "/reseller/users", retry_safe=True)
_AUTH = Operation("reseller.users.auth", "POST", "/reseller/users/{userId}/auth", retry_safe=True)
_E = "/reseller/users/{userId}/entitlements/{resellerOfferId}"
_ADD = Operation("reseller.entitlements.put", "PUT", _E)
_REMOVE = Operation("reseller.entitlements.delete", "DELETE", _E)

_ALREADY_CODES = frozenset({"offerEntitledAlready", "packEntitledAlready"})
_provisioned = decoder(ProvisionedUser)
_token = decoder(LoginToken)


class ResellerUsers(Resource):
    """``client.reseller.users``: provision users and log them in."""

    __slots__ = ()

    async def provision(
        self, *, email: str, country_code: str, name: str | UnsetType = UNSET
    ) -> Created[ProvisionedUser]:
        """``POST /reseller/users``: provision a user by e-mail.

        Returns the user (id and claim date) with ``created=True`` for a new user (201) and
        ``created=False`` for one that already existed and is now usable by this reseller
        (200). Safe to retry.
        """
        body = validate_reseller_user_create(
            ResellerUserCreate(email=email, country_code=country_code, name=name)
        )
        response = await self._call(_PROVISION, decode=_provisioned, json=body)
        return Created(response.data, created=response.status == 201)

    async def login_token(self, user_id: str) -> LoginToken:
        """``POST /reseller/users/{userId}/auth``: a login JWT for the Magine Client API.

        Only for users this reseller provisioned (400 otherwise).
        """
        validate_non_empty(user_id, "user_id")
        return (await self._call(_AUTH, [user_id], decode=_token)).data


class ResellerEntitlements(Resource):
    """``client.reseller.entitlements``: entitle provisioned users to reseller offers."""

    __slots__ = ()

    async def add(self, user_id: str, reseller_offer_id: str) -> bool:
        """``PUT /reseller/users/{userId}/entitlements/{resellerOfferId}``: entitle a user.

        Returns True when this call entitled the user and False when the user already was
        (the platform's ``offerEntitledAlready``), so a retried call is harmless. The
        entitlement stays until :meth:`remove`.
        """
        validate_non_empty(user_id, "user_id")
        validate_non_empty(reseller_offer_id, "reseller_offer_id")
        try:
            await self._call(_ADD, [user_id, reseller_offer_id], decode=ignore_body)
        except BadRequestError as exc:
            if exc.error_code in _ALREADY_CODES:
                return False
            raise
        return True

    async def remove(self, user_id: str, reseller_offer_id: str) -> None:
        """``DELETE /reseller/users/{userId}/entitlements/{resellerOfferId}``."""
        validate_non_empty(user_id, "user_id")
        validate_non_empty(reseller_offer_id, "reseller_offer_id")
        await self._call(_REMOVE, [user_id, reseller_offer_id], decode=ignore_body)


class Reseller(Resource):
    """``client.reseller``: use a client created with the reseller's key and issuer."""

    __slots__ = ("entitlements", "users")

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self.users = ResellerUsers(transport)
        self.entitlements = ResellerEntitlements(transport)

    async def test(self) -> str:
        """``GET /reseller/test``: check that the reseller credentials are accepted."""
        return (await self._call(_TEST, decode=text_body)).data
