"""Shared plumbing of the resources: the call helper and result types."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .._retry import RetryPolicy
from .._transport import Operation, Response, Transport, ignore_body
from ..models import decoder_for, encode

__all__ = ["Created", "Resource", "decoder", "ignore_body"]

T = TypeVar("T")


def decoder(tp: type[T]) -> Callable[[bytes], T]:
    """The cached decode function for ``tp``."""
    return decoder_for(tp).decode


@dataclass(frozen=True, slots=True)
class Created(Generic[T]):
    """The result of a create that may meet an existing resource.

    ``value`` is the resource; ``created`` is True when this call created it and False when it
    already existed (for example when a retried request found the resource its first attempt
    had created, resolved through the natural key).
    """

    value: T
    created: bool


class Resource:
    """Base of the resource classes: holds the client's transport."""

    __slots__ = ("_transport",)

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    async def _call(
        self,
        op: Operation,
        params: Sequence[str | int] = (),
        *,
        decode: Callable[[bytes], T],
        query: Mapping[str, str | int] | None = None,
        json: Any = None,
        retry: RetryPolicy | None = None,
        secrets: Sequence[str] = (),
    ) -> Response[T]:
        body = None if json is None else encode(json)
        return await self._transport.request(
            op, params, decode=decode, query=query, body=body, retry=retry, secrets=secrets
        )
