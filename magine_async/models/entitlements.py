"""Entitlements: the offers a user may watch.

``purchased_at`` and ``expiry`` travel as RFC 3339 date-times (the API's ``datetime`` type, e.g.
``2024-05-01T12:00:00Z``) and are timezone-aware :class:`datetime.datetime` objects here. The
server is expected to send an offset; a date-time received without one is read as UTC rather
than left naive. Naive datetimes are refused on the request side by
``magine_async.models._validate.validate_entitlement_input`` (an offset-less time would be
interpreted by the server in a zone nobody chose).
"""

from __future__ import annotations

import datetime as _dt

from msgspec import UNSET, UnsetType

from ._base import Model

__all__ = [
    "EntitlementInput",
    "EntitlementResult",
    "EntitlementResults",
    "EntitlementSuccess",
    "OfferEntitlement",
    "OfferEntitlementList",
]


def _aware(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)


class OfferEntitlement(Model, kw_only=True):
    """An offer the user is entitled to (``OfferEntitlementOutput``)."""

    offer_id: str
    purchased_at: _dt.datetime
    expiry: _dt.datetime | None = None
    """End of the entitlement; ``None`` when it does not expire."""
    offer_type: str
    source: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        self.purchased_at = _aware(self.purchased_at)
        if self.expiry is not None:
            self.expiry = _aware(self.expiry)


class OfferEntitlementList(Model, kw_only=True):
    """Answer of ``GET /partner/users/{userId}/entitlements`` (the list may be absent)."""

    entitlements: list[OfferEntitlement] | None = None


class EntitlementInput(Model, kw_only=True):
    """One item of the body of ``POST /partner/users/{userId}/entitlements``.

    ``purchased_at``, if given, must be in the past and ``expiry``, if given, in the future;
    both must be timezone-aware. ``message`` is free text stored with the entitlement.
    """

    offer_id: str
    purchased_at: _dt.datetime | UnsetType = UNSET
    expiry: _dt.datetime | UnsetType = UNSET
    message: str | UnsetType = UNSET


class EntitlementSuccess(Model, kw_only=True):
    """The ``successOutput`` of an entitlement creation result."""

    offer_id: str
    offer_type: str
    purchased_at: _dt.datetime
    expiry: _dt.datetime | None = None

    def __post_init__(self) -> None:
        self.purchased_at = _aware(self.purchased_at)
        if self.expiry is not None:
            self.expiry = _aware(self.expiry)


class EntitlementResult(Model, kw_only=True):
    """Outcome for one offer (``OfferEntitlementCreationResult``).

    Exactly one of ``success_output`` and ``failure_message`` is expected; :attr:`ok` tells
    which. The whole answer is 201 when every item succeeded and 207 when some failed.
    """

    offer_id: str
    success_output: EntitlementSuccess | None = None
    failure_message: str | None = None

    @property
    def ok(self) -> bool:
        """True when the entitlement was created."""
        return self.success_output is not None and self.failure_message is None


class EntitlementResults(Model, kw_only=True):
    """Answer (201 or 207) of ``POST /partner/users/{userId}/entitlements``."""

    results: list[EntitlementResult]

    @property
    def failed(self) -> list[EntitlementResult]:
        """The results whose entitlement was not created."""
        return [r for r in self.results if not r.ok]
