"""Parental control: the rating systems configured for the partner.

``GET /partner/parental-control/rating-systems`` answers :class:`RatingSystemList`;
``GET /partner/parental-control/rating-system/{ratingSystemId}`` answers
:class:`RatingSystemEnvelope`. A viewable refers to a rating with a
:class:`~magine_async.models.ContentRating` (``system`` = rating system id, ``rating`` = rating id).
"""

from __future__ import annotations

from ._base import Model

__all__ = ["Rating", "RatingSystem", "RatingSystemEnvelope", "RatingSystemList"]


class Rating(Model, kw_only=True):
    """One rating of a rating system, e.g. ``{"id": "15", "name": "15", "description": ...}``."""

    id: str
    name: str
    description: str | None = None


class RatingSystem(Model, kw_only=True):
    """A rating system (e.g. the Swedish Media Council's ``sm-sa``).

    ``country`` is an ISO 3166-1 alpha-2 code (case-insensitive, upper case preferred).
    ``ratings`` is documented as an "array of array": the ratings ordered from the mildest to
    the strictest, each level a list of equivalent ratings.
    """

    id: str
    name: str
    country: str
    ratings: list[list[Rating]]


class RatingSystemList(Model, kw_only=True):
    """Answer of ``GET /partner/parental-control/rating-systems``."""

    rating_systems: list[RatingSystem]


class RatingSystemEnvelope(Model, kw_only=True):
    """Answer of ``GET /partner/parental-control/rating-system/{ratingSystemId}``."""

    rating_system: RatingSystem
