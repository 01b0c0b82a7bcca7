"""Asyncio SDK for the Magine Pro Platform API and the Media Jay playout tracking API."""

from ._auth import TokenProvider, load_private_key
from ._client import DEFAULT_BASE_URL, MagineClient
from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    InvalidResponseError,
    MagineError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ._flow import FlowControl, FlowStats
from ._retry import RetryPolicy
from ._transport import Timeouts
from ._version import __version__
from .pagination import AsyncPager, Page, PaginationError
from .resources import Created, EntitlementCreation, OfferOutcome

__all__ = [
    "DEFAULT_BASE_URL",
    "APIError",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "Created",
    "EntitlementCreation",
    "FlowControl",
    "FlowStats",
    "InvalidResponseError",
    "MagineClient",
    "MagineError",
    "NotFoundError",
    "OfferOutcome",
    "Page",
    "PaginationError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "TimeoutError",
    "Timeouts",
    "TokenProvider",
    "TransportError",
    "ValidationError",
    "__version__",
    "load_private_key",
]
