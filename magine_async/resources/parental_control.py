"""``client.parental_control``: the rating systems configured for the partner."""

from __future__ import annotations

from .._transport import Operation
from ..models import RatingSystem, RatingSystemEnvelope, RatingSystemList
from ..models._validate import validate_non_empty
from ._base import Resource, decoder

__all__ = ["ParentalControl"]

_LIST = Operation(
    "parental_control.rating_systems.list", "GET", "/partner/parental-control/rating-systems"
)
_GET = Operation(
    "parental_control.rating_systems.get",
    "GET",
    "/partner/parental-control/rating-system/{ratingSystemId}",
)
_list = decoder(RatingSystemList)
_one = decoder(RatingSystemEnvelope)


class ParentalControl(Resource):
    """Rating systems (for example the Swedish Media Council's ``sm-sa``)."""

    __slots__ = ()

    async def rating_systems(self) -> list[RatingSystem]:
        """``GET /partner/parental-control/rating-systems``: every configured rating system.

        Raises :class:`~magine_async.BadRequestError` if the partner has no parental control.
        """
        return (await self._call(_LIST, decode=_list)).data.rating_systems

    async def rating_system(self, rating_system_id: str) -> RatingSystem:
        """``GET /partner/parental-control/rating-system/{ratingSystemId}``: one system."""
        validate_non_empty(rating_system_id, "rating_system_id")
        return (await self._call(_GET, [rating_system_id], decode=_one)).data.rating_system
