"""The Media Jay playout API: tracking sessions.

::

    async with PlayoutClient(api_key="...", playout_id="my-tenant") as jay:
        created = await jay.tracking.create(user_id="hashed-user-id")
        found = await jay.tracking.get(session=created.value)
        await jay.tracking.delete(session=created.value)
"""

from ._client import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    MOCK_BASE_URL,
    PRODUCTION_BASE_URL,
    PlayoutClient,
)
from ._session import (
    SESSION_COOKIE,
    SESSION_HEADER,
    InvalidSessionError,
    TrackingSession,
    decode_session,
)
from ._tracking import CreatedSession, DeletedSession, SessionResult, TrackingSessions

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "MOCK_BASE_URL",
    "PRODUCTION_BASE_URL",
    "SESSION_COOKIE",
    "SESSION_HEADER",
    "CreatedSession",
    "DeletedSession",
    "InvalidSessionError",
    "PlayoutClient",
    "SessionResult",
    "TrackingSession",
    "TrackingSessions",
    "decode_session",
]
