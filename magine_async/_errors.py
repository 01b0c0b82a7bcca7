"""Exceptions raised by magine_async.

Every exception the SDK raises derives from :class:`MagineError`::

    MagineError
    ├── ConfigurationError        a setting is missing or unusable (raised before any request)
    ├── ValidationError           an argument breaks a documented rule (raised before any request)
    ├── ClientClosedError         the client was used after ``aclose()``
    ├── TransportError            the request did not produce an HTTP answer
    │   └── TimeoutError          connect, read or total timeout
    └── APIError                  the server answered with an error status or an unusable body
        ├── InvalidResponseError  a 2xx answer whose body is not the documented JSON
        ├── BadRequestError       400
        ├── AuthenticationError   401
        ├── NotFoundError         404
        ├── ConflictError         409
        ├── RateLimitError        429
        └── ServerError           5xx

None of them carries request headers, the private key, the JWT or the access token: their
``str()`` and ``repr()`` are safe to log.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "InvalidResponseError",
    "MagineError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "ValidationError",
    "error_for_status",
    "parse_trace_id",
]

_TRACE_RE = re.compile(r"Trace\s*ID\s*[:=#]?\s*([A-Za-z0-9][A-Za-z0-9._-]*)", re.IGNORECASE)


def parse_trace_id(messages: Sequence[str]) -> str | None:
    """The trace id in an error body's messages (``Trace ID 0987`` or ``Trace ID: x``), if any."""
    for message in messages:
        match = _TRACE_RE.search(message)
        if match:
            return match.group(1)
    return None


class MagineError(Exception):
    """Base class of every exception raised by magine_async."""


class ConfigurationError(MagineError):
    """A setting is missing or unusable (for example an encrypted or too-short private key)."""


class ClientClosedError(MagineError, RuntimeError):
    """The client was used after :meth:`MagineClient.aclose`."""


class ValidationError(MagineError, ValueError):
    """An argument breaks a documented rule; raised before anything is sent.

    ``field`` names the argument (``metadata.source_id``, ``inputs[0].name``) and ``rule`` says
    what it must satisfy.
    """

    def __init__(self, field: str, rule: str, value_excerpt: str | None = None) -> None:
        self.field = field
        self.rule = rule
        self.value_excerpt = value_excerpt
        message = f"{field}: {rule}"
        if value_excerpt is not None:
            message += f" (got {value_excerpt})"
        super().__init__(message)


class TransportError(MagineError):
    """The request produced no HTTP answer: connection refused or reset, DNS failure, timeout.

    ``method`` and ``path`` say which request; ``cause`` is a short description of the underlying
    error (its type and message only, never its request headers); ``attempts`` how many
    attempts were made.
    """

    attempts: int = 1

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        cause: str = "",
        request_sent: bool = True,
    ) -> None:
        self.method = method
        self.path = path
        self.cause = cause
        self.request_sent = request_sent
        """False only when the request provably never left (the connection was refused)."""
        super().__init__(message)


class TimeoutError(TransportError, builtins.TimeoutError):
    """A connect, read or total timeout expired. Also an instance of the builtin TimeoutError."""


class APIError(MagineError):
    """The server answered with a status outside 2xx.

    Attributes: ``status``, ``error_code`` (the body's ``errorCode``; the Media Jay envelope's
    ``error.code`` as text), ``messages``, ``details`` (an error envelope's
    ``error.details``, as Media Jay sends: ``"TRACKING_NOT_VALID"``; an object or list as its
    JSON text; None where the body has none),
    ``trace_id`` (from the last attempt), ``trace_ids`` (one per attempt that carried one),
    ``method``, ``path``, ``body_excerpt`` (the first bytes of a body that was not the
    documented JSON) and ``attempts`` (how many attempts were made).
    """

    attempts: int = 1

    def __init__(
        self,
        status: int,
        *,
        error_code: str | None = None,
        messages: Sequence[str] = (),
        trace_ids: Sequence[str] = (),
        method: str = "",
        path: str = "",
        body_excerpt: str = "",
        retry_after: float | None = None,
        details: str | None = None,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.messages = list(messages)
        self.details = details
        self.trace_ids = list(trace_ids)
        self.method = method
        self.path = path
        self.body_excerpt = body_excerpt
        self.retry_after = retry_after
        super().__init__(self._summary())

    @property
    def trace_id(self) -> str | None:
        return self.trace_ids[-1] if self.trace_ids else None

    def _summary(self) -> str:
        parts = [f"{self.method} {self.path} -> {self.status}".strip()]
        if self.error_code:
            parts.append(self.error_code)
        if self.messages:
            parts.append("; ".join(self.messages))
        if self.details:
            parts.append(f"details: {self.details}")
        if not self.messages and self.body_excerpt:
            parts.append(f"body: {self.body_excerpt!r}")
        if self.trace_ids:
            parts.append("trace ids: " + ", ".join(self.trace_ids))
        return ": ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, error_code={self.error_code!r}, "
            f"method={self.method!r}, path={self.path!r}, trace_ids={self.trace_ids!r})"
        )


class InvalidResponseError(APIError):
    """A 2xx answer whose body could not be decoded (truncated JSON, an HTML page, a wrong shape).

    ``body_excerpt`` shows its first bytes; ``messages`` says what was wrong.
    """


class BadRequestError(APIError):
    """400: a field is missing or malformed, or the request breaks a rule of the platform."""


class AuthenticationError(APIError):
    """401: the access token or the JWT was rejected (after one fresh JWT was tried)."""


class NotFoundError(APIError):
    """404: the addressed resource does not exist."""


class ConflictError(APIError):
    """409: the resource already exists (a duplicate customId or e-mail)."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` holds the server's hint in seconds, if any."""


class ServerError(APIError):
    """5xx: the platform failed. Quote ``trace_ids`` when reporting it."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_for_status(status: int) -> type[APIError]:
    """The exception class for an HTTP status outside 2xx."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
