"""The one request path shared by every operation.

``Transport.request`` builds the URL from an :class:`Operation` (every path parameter encoded as
one segment), adds the headers, sends the request over the shared aiohttp session, decodes the
answer with the caller's msgspec decoder, turns error statuses into typed exceptions and applies
the retry policy. A 401 causes one fresh JWT and one resend.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime
import email.utils
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
import msgspec
from multidict import CIMultiDictProxy
from yarl import URL

from ._auth import TokenProvider
from ._errors import (
    APIError,
    ClientClosedError,
    InvalidResponseError,
    MagineError,
    TimeoutError,
    TransportError,
    error_for_status,
    parse_trace_id,
)
from ._flow import FlowControl
from ._paths import PathTemplate
from ._retry import RetryPolicy, current_attempt_hooks, is_retriable
from ._version import __version__

__all__ = ["Operation", "Response", "Timeouts", "Transport", "user_agent"]

T = TypeVar("T")

logger = logging.getLogger("magine_async")

_EXCERPT_BYTES = 200
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_NO_BODY_HEADERS = ("Content-Type",)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


def user_agent() -> str:
    python = ".".join(str(part) for part in sys.version_info[:3])
    return f"magine-async/{__version__} python/{python} aiohttp/{aiohttp.__version__}"


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented API operation: its name, method, path template and retry safety.

    ``retry_safe`` defaults to True for GET, PUT and DELETE; a POST or PATCH is retried after
    the request may have reached the server only when marked retry-safe explicitly.
    """

    name: str
    method: str
    path: str
    retry_safe: bool | None = None
    template: PathTemplate = field(init=False, repr=False, compare=False)
    safe: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", PathTemplate(self.path))
        safe = self.method in _IDEMPOTENT_METHODS if self.retry_safe is None else self.retry_safe
        object.__setattr__(self, "safe", safe)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Request timeouts in seconds; None disables one.

    ``connect``: establishing a new connection (TCP and TLS); ``read``: the longest wait for
    the next bytes of an answer (off by default: the platform's answers are small and
    ``total`` bounds them, and a read timer re-armed on every chunk costs CPU on every
    request); ``total``: one attempt, end to end, waiting for a pooled connection included.
    """

    connect: float | None = 10.0
    read: float | None = None
    total: float | None = 60.0

    def to_aiohttp(self) -> aiohttp.ClientTimeout:
        # ``sock_connect`` bounds establishing a connection; waiting for a free one in the
        # pool is bounded by ``total``. (aiohttp's ``connect`` would arm one more timer on
        # every request, pooled connection or not.)
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )


class Response(Generic[T]):
    """A decoded answer: ``status``, ``data``, the response ``headers`` and the number of
    ``attempts`` it took."""

    __slots__ = ("attempts", "data", "headers", "status")

    def __init__(
        self, status: int, data: T, headers: CIMultiDictProxy[str], attempts: int = 1
    ) -> None:
        self.status = status
        self.data = data
        self.headers = headers
        self.attempts = attempts

    def __repr__(self) -> str:
        return f"Response(status={self.status}, data={self.data!r})"


class _DetailItem(msgspec.Struct):
    msg: str | None = None
    loc: list[str | int] | None = None
    # FastAPI also sends "input", which may echo a header value: deliberately not decoded.


class _ErrorBody(msgspec.Struct):
    """The documented ``{"errorCode", "messages"}`` body, a FastAPI ``{"detail": ...}`` one,
    or the Media Jay envelope's ``{"error": {"code", "message", "details"}}`` (its ``code``
    documented as an integer, shown as a string in the guides: either is read)."""

    errorCode: str | None = None
    messages: list[str] | str | None = None
    detail: str | list[_DetailItem] | None = None
    error: Any = None

    def envelope_error(self) -> tuple[str | None, list[str], Any]:
        """The envelope error's code (as text), message and details (any JSON value), where
        ``error`` is an object holding any of them."""
        error = self.error
        if not isinstance(error, dict):
            return None, [], None
        code, message = error.get("code"), error.get("message")
        code_text = None
        if isinstance(code, str | int) and not isinstance(code, bool):
            code_text = str(code)
        messages = [message] if isinstance(message, str) else []
        return code_text, messages, error.get("details")

    def message_list(self) -> list[str]:
        if isinstance(self.messages, str):
            return [self.messages]
        if self.messages:
            return list(self.messages)
        if isinstance(self.detail, str):
            return [self.detail]
        found: list[str] = []
        for item in self.detail or ():
            if item.msg is not None:
                where = ".".join(str(part) for part in item.loc or ())
                found.append(f"{where}: {item.msg}" if where else item.msg)
        return found


_error_decoder = msgspec.json.Decoder(_ErrorBody)


def _json_escaped(text: str) -> str:
    return msgspec.json.encode(text).decode()[1:-1]


_MAX_DETAILS = 1_000  # characters of an error's details kept
_REDACTED = "<redacted>"
_MIN_PARTIAL = 4


# A JWT (or the start of one, cut short by an excerpt): base64url of '{"' and what follows.
# Every token the client signed is a bearer credential; any of them may come back in an
# answer (a proxy echoing the Authorization header), whichever of them was sent.
_JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){0,2}")


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced, including one cut short at the end of an excerpt.

    Besides ``secrets``, anything shaped like a JWT is replaced, after the secrets (a secret
    such as a Media Jay session value may itself start like a JWT and hold characters the JWT
    shape stops at: replaced first, it goes whole).
    """
    for secret in secrets:
        if not secret or not text:
            continue
        text = text.replace(secret, _REDACTED)
        body, dots = (text[:-3], "...") if text.endswith("...") else (text, "")
        for length in range(len(secret) - 1, min(len(secret), _MIN_PARTIAL) - 1, -1):
            if body.endswith(secret[:length]):
                text = body[:-length] + _REDACTED + dots
                break
    if "eyJ" in text:
        text = _JWT_SHAPE.sub(_REDACTED, text)
    return text


_DELAY_SECONDS = re.compile(r"[0-9]{1,24}(?:\.[0-9]{1,9})?")
# asctime, the third HTTP-date form (RFC 9110 5.6.7): no zone, always GMT
_ASCTIME = re.compile(
    r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}"
)
_UTC_ZONES = frozenset({"GMT", "UTC", "UT", "Z", "+0000"})


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """The wait a ``Retry-After`` header asks for, or None when there is no usable one.

    Usable: a number of seconds (digits, optionally with a decimal fraction) or an HTTP date
    with an explicit UTC zone (``GMT``, as HTTP dates are written), or in the asctime form
    (which is GMT by definition). Anything else (``nan``,
    ``inf``, a negative or exponent form, garbage, an empty value, a date without a zone or with
    the "unknown zone" ``-0000``) is treated as absent, so the ordinary back-off applies. A
    date already past means 0.
    """
    if not value:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    asctime = _ASCTIME.fullmatch(value) is not None
    zone = value.rsplit(None, 1)[-1].upper() if value else ""
    if zone not in _UTC_ZONES and not asctime:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        if not asctime:
            return None
        when = when.replace(tzinfo=datetime.UTC)
    try:
        seconds = when.timestamp() - now
    except (OverflowError, OSError, ValueError):
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _excerpt(body: bytes) -> str:
    text = body[:_EXCERPT_BYTES].decode("utf-8", "replace")
    return text + ("..." if len(body) > _EXCERPT_BYTES else "")


class Transport:
    """Sends requests for one set of credentials over one aiohttp session.

    The session is created lazily inside the running event loop, unless the caller lends one
    (which the transport then never closes).
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        tokens: TokenProvider | None = None,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = 100,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - immutable
        wall_clock: Callable[[], float] = time.time,
        secrets: Sequence[str] = (),
        flow: FlowControl | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._headers.setdefault("Accept", "application/json")
        self._headers.setdefault("User-Agent", user_agent())
        # An owned session carries the static headers and the timeouts itself; a lent one
        # gets them with every request.
        self._per_request_headers: dict[str, str] = {} if session is None else self._headers
        self._tokens = tokens
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._timeouts = timeouts
        self._aiohttp_timeout = timeouts.to_aiohttp()
        self.retry = retry
        self._wall_clock = wall_clock
        self._secrets = tuple(secret for secret in secrets if secret)
        self.flow = flow
        self._closed = False
        self._session_token: str | None = None
        self._lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=self._max_connections,
            ttl_dns_cache=300,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._aiohttp_timeout,
            headers=self._headers,
            raise_for_status=False,
            auto_decompress=True,
            # An API client keeps no cookies: a jar shared by all tasks would replay one
            # caller's Set-Cookie on another caller's request.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session, created on first use inside the running loop."""
        if self._closed:
            raise ClientClosedError("the client is closed; create a new one")
        session = self._session
        if session is None:
            session = self._session = self._new_session()
            self._session_token = None
        return session

    async def aclose(self) -> None:
        """Close the owned session. Requests still in flight end with ClientClosedError."""
        if self._closed:
            return
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def url_for(self, path: str, query: Mapping[str, str | int] | None) -> URL:
        url = self.base_url + path
        if query:
            url += "?" + urlencode(query, quote_via=quote)
        return URL(url, encoded=True)

    async def request(
        self,
        op: Operation,
        params: Sequence[str | int] = (),
        *,
        decode: Callable[[bytes], T],
        query: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        secrets: Sequence[str] = (),
    ) -> Response[T]:
        """Send ``op`` and return the decoded answer, or raise a :class:`MagineError`.

        ``secrets`` (with the transport's own) are replaced by ``<redacted>`` wherever an
        answer's text ends up in an error.
        """
        if self._closed:
            raise ClientClosedError("the client is closed; create a new one")
        path = op.template.render(params)
        url = self.url_for(path, query)
        hooks = current_attempt_hooks()
        policy = retry or (hooks.retry if hooks is not None else None) or self.retry
        trace_ids: list[str] = []
        attempts = [0]
        # The deadline counts from the first send: time queued in the client's own flow
        # control (or a bulk run's hooks) before it is not time at the platform.
        started = [policy.clock()]
        timed = policy.deadline is not None
        flow = (hooks.flow if hooks is not None else None) or self.flow
        not_before: list[float | None] = [None]  # this request's own Retry-After, if any

        async def attempt() -> Response[T]:
            attempts[0] += 1
            if hooks is None and flow is None:
                deadline = (policy, started[0]) if timed else None
                return await self._attempt(
                    op, path, url, decode, body, headers, trace_ids, attempts[0], secrets, deadline
                )
            token = await hooks.before_attempt() if hooks is not None else None
            sent: float | None = None
            status: int | None = None
            error: BaseException | None = None
            try:
                if flow is not None:
                    sent = await flow.acquire(not_before[0])
                if attempts[0] == 1 and timed:
                    started[0] = policy.clock()
                response = await self._attempt(
                    op,
                    path,
                    url,
                    decode,
                    body,
                    headers,
                    trace_ids,
                    attempts[0],
                    secrets,
                    (policy, started[0]) if timed else None,
                )
                status = response.status
                return response
            except APIError as exc:
                status, error = exc.status, exc
                raise
            except TransportError as exc:
                error = exc
                raise
            finally:
                if flow is not None and sent is not None:
                    hint = error.retry_after if isinstance(error, APIError) else None
                    not_before[0] = flow.release(sent, status, hint)
                if hooks is not None:
                    hooks.after_attempt(token, status, error)

        try:
            return await attempt()
        except (APIError, TransportError) as first:
            first.attempts = 1
            if not is_retriable(first, retry_safe=op.safe):
                raise  # a 4xx answer: nothing to retry, no need for the retry machinery

            def on_retry(number: int, error: BaseException, wait: float) -> None:
                if hooks is not None:
                    hooks.on_retry(error, wait)
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s %s: retrying after %s in %.3f s (attempt %d failed)",
                        op.method,
                        path,
                        type(error).__name__,
                        wait,
                        number,
                    )

            try:
                return await policy.run(
                    attempt,
                    retry_safe=op.safe,
                    first_error=first,
                    started=started[0],
                    on_retry=on_retry,
                    allow_retry=hooks.allow_retry if hooks is not None else None,
                    paced=flow is not None,
                )
            except (APIError, TransportError) as final:
                final.attempts = attempts[0]
                raise

    async def _attempt(
        self,
        op: Operation,
        path: str,
        url: URL,
        decode: Callable[[bytes], T],
        body: bytes | None,
        extra_headers: Mapping[str, str] | None,
        trace_ids: list[str],
        number: int,
        secrets: Sequence[str],
        deadline: tuple[RetryPolicy, float] | None,
    ) -> Response[T]:
        reminted = False
        while True:
            headers = dict(self._per_request_headers)
            token: str | None = None
            if self._tokens is not None:
                token = self._tokens.cached() or await self._tokens.get()
                if self._owns_session:
                    self._install_token(token)
                else:
                    headers["Authorization"] = "Bearer " + token
            if body is not None:
                headers["Content-Type"] = "application/json"
            if extra_headers:
                headers.update(extra_headers)
            limits = (
                self._aiohttp_timeout if deadline is None else self._capped(op, path, *deadline)
            )
            started = time.perf_counter()
            try:
                status, payload, response_headers = await self._send(
                    op, path, url, headers, body, limits
                )
            except TransportError as exc:
                self._log(op, path, type(exc).__name__, number, started, None)
                raise
            if status == 401 and token is not None and not reminted and self._tokens is not None:
                self._log(op, path, status, number, started, None)
                self._tokens.invalidate(token)
                reminted = True
                continue
            break
        if 200 <= status < 300:
            self._log(op, path, status, number, started, None)
            try:
                data = decode(payload)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                raise InvalidResponseError(
                    status,
                    messages=[
                        self._redact(f"the response body could not be decoded: {exc}", secrets)
                    ],
                    trace_ids=trace_ids,
                    method=op.method,
                    path=path,
                    body_excerpt=self._redact(_excerpt(payload), secrets),
                ) from None
            return Response(status, data, response_headers, number)
        error = self._error(op, path, status, payload, response_headers, trace_ids, secrets)
        self._log(op, path, status, number, started, error.trace_id)
        raise error

    def _capped(
        self, op: Operation, path: str, policy: RetryPolicy, started: float
    ) -> aiohttp.ClientTimeout:
        """This attempt's timeout when the call has a deadline: at most the time that remains."""
        remaining = policy.remaining(started)
        assert remaining is not None
        if remaining <= 0:
            raise TimeoutError(
                f"{op.method} {path}: the call's deadline of {policy.deadline} s has passed",
                method=op.method,
                path=path,
                cause="deadline",
                request_sent=False,
            )
        total = self._timeouts.total
        return aiohttp.ClientTimeout(
            total=remaining if total is None else min(total, remaining),
            sock_connect=self._timeouts.connect,
            sock_read=self._timeouts.read,
            # aiohttp rounds timeouts of 5 s and more up to a whole second; a deadline is exact.
            ceil_threshold=math.inf,
        )

    def _install_token(self, token: str) -> None:
        """Put the current JWT into the owned session's default headers.

        A request without headers of its own then skips aiohttp's per-request header merge;
        requests already sent keep the token they were sent with.
        """
        if token is not self._session_token:
            self.session().headers["Authorization"] = "Bearer " + token
            self._session_token = token

    async def _send(
        self,
        op: Operation,
        path: str,
        url: URL,
        headers: dict[str, str],
        body: bytes | None,
        limits: aiohttp.ClientTimeout,
    ) -> tuple[int, bytes, CIMultiDictProxy[str]]:
        session = self.session()
        try:
            async with session.request(
                op.method,
                url,
                headers=headers or None,
                data=body,
                timeout=limits,
                # aiohttp would label a missing body application/octet-stream.
                skip_auto_headers=_NO_BODY_HEADERS
                if body is None and op.method in _BODY_METHODS
                else None,
                allow_redirects=False,
            ) as response:
                payload = await response.read()
                return response.status, payload, response.headers
        except (aiohttp.ClientError, builtins.TimeoutError, OSError) as exc:
            raise self._transport_error(op, path, exc) from None
        except RuntimeError:
            # aiohttp raises RuntimeError("Session is closed") when aclose() races a request.
            if self._closed:
                raise ClientClosedError(
                    f"{op.method} {path}: the client was closed while the request was in flight"
                ) from None
            raise

    def _transport_error(self, op: Operation, path: str, exc: BaseException) -> MagineError:
        if self._closed:
            return ClientClosedError(
                f"{op.method} {path}: the client was closed while the request was in flight"
            )
        # Only the exception's type and its own message: aiohttp's reprs include request headers,
        # and a parser error quotes the bytes it met (a proxy may echo credentials there).
        detail = type(exc).__name__
        if isinstance(exc, aiohttp.ClientConnectorError):
            detail += f": cannot connect to {exc.host}:{exc.port} ({exc.strerror or exc.os_error})"
        elif isinstance(exc, aiohttp.ClientPayloadError):
            # aiohttp's text names an internal "400" that reads like an HTTP status.
            detail = "the answer was cut short before its end (ClientPayloadError)"
        elif isinstance(exc, aiohttp.ClientResponseError):
            detail += f": {exc.status} {exc.message}"
        elif str(exc):
            detail += f": {exc}"
        detail = self._redact(detail, ())
        sent = not isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
        if isinstance(exc, builtins.TimeoutError):
            kind = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "read or total"
            return TimeoutError(
                f"{op.method} {path}: {kind} timeout ({detail})",
                method=op.method,
                path=path,
                cause=detail,
                request_sent=sent,
            )
        return TransportError(
            f"{op.method} {path}: {detail}",
            method=op.method,
            path=path,
            cause=detail,
            request_sent=sent,
        )

    def _error(
        self,
        op: Operation,
        path: str,
        status: int,
        payload: bytes,
        headers: CIMultiDictProxy[str],
        trace_ids: list[str],
        secrets: Sequence[str],
    ) -> APIError:
        error_code: str | None = None
        messages: list[str] = []
        details: str | None = None
        excerpt = ""
        try:
            parsed = _error_decoder.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            excerpt = _excerpt(payload)
        else:
            found = parsed.message_list()
            code = parsed.errorCode
            if parsed.error is not None:
                envelope_code, envelope_messages, raw_details = parsed.envelope_error()
                code = code or envelope_code
                found += envelope_messages
                if raw_details is not None:
                    details = self._details_text(raw_details, secrets)
            error_code = code and self._redact(code, secrets)
            messages = [self._redact(message, secrets) for message in found]
            if error_code is None and not messages:
                excerpt = _excerpt(payload)
        excerpt = self._redact(excerpt, secrets)
        trace_id = parse_trace_id(messages) or self._redact(headers.get("X-Trace-Id", ""), secrets)
        if trace_id:
            trace_ids.append(trace_id)
        retry_after = retry_after_seconds(headers.get("Retry-After"), self._wall_clock())
        return error_for_status(status)(
            status,
            error_code=error_code,
            messages=messages,
            trace_ids=list(trace_ids),
            method=op.method,
            path=path,
            body_excerpt=excerpt,
            retry_after=retry_after,
            details=details,
        )

    def _details_text(self, details: Any, secrets: Sequence[str]) -> str:
        """An envelope error's details as bounded, redacted text: a string as it is, any other
        value as its JSON text (cut before redaction, so a huge value costs little; the
        JSON-escaped forms of the secrets are redacted too)."""
        if isinstance(details, str):
            text = details[: 2 * _MAX_DETAILS]
        else:
            try:
                text = msgspec.json.encode(details)[: 4 * _MAX_DETAILS].decode("utf-8", "replace")
            except (RecursionError, msgspec.EncodeError):
                return "<details not shown: nested too deeply>"
        return self._redact(text, secrets)[:_MAX_DETAILS]

    def _redact(self, text: str, secrets: Sequence[str]) -> str:
        if not text:
            return text
        every = [*self._secrets, *secrets]
        if self._tokens is not None:
            every += self._tokens.recent_secrets()
        # as a JSON encoder may have written them into a body: escaped quotes, backslashes
        # and (as some encoders do) slashes
        every += [
            escaped
            for secret in list(every)
            for escaped in (_json_escaped(secret), _json_escaped(secret).replace("/", "\\/"))
            if escaped != secret
        ]
        every.sort(key=len, reverse=True)  # overlapping secrets: the longest goes first
        return redact(text, every)

    @staticmethod
    def _log(
        op: Operation,
        path: str,
        status: int | str,
        attempt: int,
        started: float,
        trace_id: str | None,
    ) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s attempt=%d in %.1f ms%s",
                op.method,
                path,
                status,
                attempt,
                (time.perf_counter() - started) * 1000,
                f" trace_id={trace_id}" if trace_id else "",
            )


def ignore_body(_payload: bytes) -> None:
    """A decoder for answers whose body carries nothing of use."""
    return None


_text_decoder = msgspec.json.Decoder(str)


def text_body(payload: bytes) -> str:
    """A JSON string answer (``/test``); a bare text body, not JSON, is taken as it is."""
    if not payload:
        return ""
    if payload[:1] in (b'"', b"{", b"["):
        return _text_decoder.decode(payload)
    return payload.decode("utf-8", "replace")


def any_json(payload: bytes) -> Any:
    """Decode any JSON body (an empty body gives None)."""
    return msgspec.json.decode(payload) if payload else None
