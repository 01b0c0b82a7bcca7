"""The API's resources, reached as attributes of :class:`~magine_async.MagineClient`."""

from ._base import Created
from .parental_control import ParentalControl
from .reseller import Reseller, ResellerEntitlements, ResellerUsers
from .subtitles import Subtitles
from .transcode import Transcode
from .users import (
    EntitlementCreation,
    OfferOutcome,
    UserEntitlements,
    UserPlaySessions,
    Users,
    UserSegments,
    UserTags,
)
from .viewables import Viewables

__all__ = [
    "Created",
    "EntitlementCreation",
    "OfferOutcome",
    "ParentalControl",
    "Reseller",
    "ResellerEntitlements",
    "ResellerUsers",
    "Subtitles",
    "Transcode",
    "UserEntitlements",
    "UserPlaySessions",
    "UserSegments",
    "UserTags",
    "Users",
    "Viewables",
]
