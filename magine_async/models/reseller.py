"""Reseller API: provisioning users by e-mail address.

A reseller may only manage users it provisioned, and entitles them to offers with
``PUT /reseller/users/{userId}/entitlements/{resellerOfferId}`` (no body; the answer is an
empty object). Login tokens use :class:`~magine_async.models.LoginToken`.
"""

from __future__ import annotations

import datetime as _dt

from msgspec import UNSET, UnsetType

from ._base import Model

__all__ = ["ProvisionedUser", "ResellerUserCreate"]


class ResellerUserCreate(Model, kw_only=True):
    """Body of ``POST /reseller/users``.

    ``email`` is the user's login and receives e-mail send-outs; ``country_code`` is an
    ISO 3166-1 alpha-2 code (case-insensitive, upper case preferred); ``name`` is free-form.
    """

    email: str
    country_code: str
    name: str | UnsetType = UNSET


class ProvisionedUser(Model, kw_only=True):
    """Answer of ``POST /reseller/users``: 201 when the user was created, 200 when it existed
    already and is now usable by this reseller. ``reseller_claim_date`` is a date only."""

    user_id: str
    reseller_claim_date: _dt.date
