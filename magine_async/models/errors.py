"""The error body shared by all endpoints: ``{"errorCode": string, "messages": [string]}``.

``error_code`` is meant for programs (e.g. ``offerEntitledAlready``); ``messages`` are for
humans only and change without notice, so never match on them. For a 5xx answer the messages
carry a Trace ID worth quoting to Magine Pro.
"""

from __future__ import annotations

import msgspec

from ._base import Model

__all__ = ["ErrorBody"]


class ErrorBody(Model, kw_only=True, omit_defaults=False):
    """Body of a 4xx/5xx answer. ``messages`` defaults to empty when the server omits it."""

    error_code: str
    messages: list[str] = msgspec.field(default_factory=list)
