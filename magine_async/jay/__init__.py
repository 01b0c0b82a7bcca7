"""The Media Jay playout API: tracking sessions.

::

    async with PlayoutClient(api_key="...") as jay:
        created = await jay.tracking.create(user_id="user-123")
        found = await jay.tracking.get(session=created.value)
        await jay.tracking.delete(session=created.value)
"""

from ._client import DEFAULT_API_VERSION, DEFAULT_BASE_URL, PlayoutClient
from ._session import SESSION_COOKIE, InvalidSessionError, TrackingSession, decode_session
from ._tracking import CreatedSession, DeletedSession, SessionResult, TrackingSessions

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "SESSION_COOKIE",
    "CreatedSession",
    "DeletedSession",
    "InvalidSessionError",
    "PlayoutClient",
    "SessionResult",
    "TrackingSession",
    "TrackingSessions",
    "decode_session",
]
