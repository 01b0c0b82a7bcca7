"""HTTP helpers shared by the sandbox routes: error type, JSON bodies, request parsing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

from ._representation import PAGE_PARTS, REPRESENTATION, PageParts, strip_variants

JSON_TYPE = "application/json"

_encode = msgspec.json.encode


class ApiError(Exception):
    """An error answer: raised by handlers, rendered as ``{"errorCode", "messages"}``."""

    def __init__(
        self,
        status: int,
        code: str,
        *messages: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.messages = list(messages) or [code]
        self.headers = dict(headers or {})


def bad_request(code: str, *messages: str) -> ApiError:
    return ApiError(400, code, *messages)


def not_found(code: str, *messages: str) -> ApiError:
    return ApiError(404, code, *messages)


def error_body(code: str, messages: list[str]) -> bytes:
    return _encode({"errorCode": code, "messages": messages})


def error_response(
    status: int, code: str, messages: list[str], headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=error_body(code, messages),
        status=status,
        content_type=JSON_TYPE,
        headers=headers,
    )


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(body=_encode(data), status=status, content_type=JSON_TYPE)


def raw_json(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON_TYPE)


def page_json(name: str, items: list[bytes], rest: dict[str, Any]) -> web.Response:
    """``{name: [*items], **rest}`` from pre-encoded items, joined without decoding anything.

    The parts stay on the response (:data:`PAGE_PARTS`) for the representation layer."""
    head = b'{"' + name.encode() + b'":['
    tail = b"]}" if not rest else b"]," + _encode(rest)[1:]
    if items:
        # one copy of the page bytes: the frame goes onto the first and last entries
        framed = items.copy()
        framed[0] = head + framed[0]
        framed[-1] = framed[-1] + tail
        body = b",".join(framed)
    else:
        body = head + tail
    response = raw_json(body)
    response[PAGE_PARTS] = PageParts(name, items, rest)
    return response


def empty(status: int) -> web.Response:
    """A bodiless answer, for statuses the doc lists without a body (202, 204, ...)."""
    return web.Response(status=status)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise bad_request("invalidJson", "The request body is empty; a JSON body is required.")
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise bad_request("invalidJson", f"The request body is not valid JSON: {exc}") from None
    representation = request.app.get(REPRESENTATION)
    if representation is not None and not representation.plain:
        # what a varied answer added must not become stored data when a client sends it back
        data = strip_variants(data)
    return data


async def read_object(request: web.Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise bad_request("invalidInput", "The request body must be a JSON object.")
    return data
