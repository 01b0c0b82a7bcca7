"""HTTP helpers shared by the sandbox routes: error type, JSON bodies, request parsing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

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


def empty(status: int) -> web.Response:
    """A bodiless answer, for statuses the doc lists without a body (202, 204, ...)."""
    return web.Response(status=status)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise bad_request("invalidJson", "The request body is empty; a JSON body is required.")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise bad_request("invalidJson", f"The request body is not valid JSON: {exc}") from None


async def read_object(request: web.Request) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise bad_request("invalidInput", "The request body must be a JSON object.")
    return data
