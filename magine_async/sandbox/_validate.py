"""Request validation: every rule the platform documents answers 400 ``invalidInput``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ._http import ApiError, bad_request

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
VIEWABLE_ID_RE = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9]+)$"
)
SOURCE_ID_RE = re.compile(r"^[A-Za-z0-9 &/_-]{2,1000}$")
MEDIA_NAME_RE = re.compile(r"^[A-Za-z0-9/_-]{2,1000}$")
INPUT_SOURCE_RE = re.compile(r"^(?!/)[0-9A-Za-z/._-]{2,1000}$")
LANGUAGE_RE = re.compile(r"^[a-z]{3}$")
COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
LOWER_COUNTRY_RE = re.compile(r"^[a-z]{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PATH_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

INVALID = "invalidInput"


def fail(where: str, rule: str) -> ApiError:
    return bad_request(INVALID, f"{where}: {rule}")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def obj(data: dict[str, Any], key: str, where: str, *, required: bool) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        if required:
            raise fail(f"{where}{key}", "is required and must be an object")
        return None
    if not isinstance(value, dict):
        raise fail(f"{where}{key}", "must be an object")
    return value


def string(
    data: dict[str, Any],
    key: str,
    where: str,
    *,
    required: bool,
    pattern: re.Pattern[str] | None = None,
    non_empty: bool = False,
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise fail(f"{where}{key}", "is required and must be a string")
        return None
    if not isinstance(value, str):
        raise fail(f"{where}{key}", "must be a string")
    if non_empty and not value.strip():
        raise fail(f"{where}{key}", "must not be empty")
    if pattern is not None and not pattern.match(value):
        raise fail(f"{where}{key}", f"must match {pattern.pattern}")
    return value


def boolean(data: dict[str, Any], key: str, where: str, *, required: bool) -> bool | None:
    value = data.get(key)
    if value is None:
        if required:
            raise fail(f"{where}{key}", "is required and must be a boolean")
        return None
    if not isinstance(value, bool):
        raise fail(f"{where}{key}", "must be a boolean")
    return value


def number(data: dict[str, Any], key: str, where: str, *, required: bool) -> float | None:
    value = data.get(key)
    if value is None:
        if required:
            raise fail(f"{where}{key}", "is required and must be a number")
        return None
    if not is_number(value):
        raise fail(f"{where}{key}", "must be a number")
    return float(value)


def integer(
    data: dict[str, Any], key: str, where: str, *, required: bool, minimum: int | None = None
) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise fail(f"{where}{key}", "is required and must be an integer")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"{where}{key}", "must be an integer")
    if minimum is not None and value < minimum:
        raise fail(f"{where}{key}", f"must be at least {minimum}")
    return value


def array(
    data: dict[str, Any], key: str, where: str, *, required: bool, min_items: int = 0
) -> list[Any] | None:
    value = data.get(key)
    if value is None:
        if required:
            raise fail(f"{where}{key}", "is required and must be an array")
        return None
    if not isinstance(value, list):
        raise fail(f"{where}{key}", "must be an array")
    if len(value) < min_items:
        raise fail(f"{where}{key}", f"must have at least {min_items} item(s)")
    return value


def string_list(
    data: dict[str, Any],
    key: str,
    where: str,
    *,
    required: bool = False,
    pattern: re.Pattern[str] | None = None,
) -> list[str] | None:
    items = array(data, key, where, required=required)
    if items is None:
        return None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise fail(f"{where}{key}[{i}]", "must be a string")
        if pattern is not None and not pattern.match(item):
            raise fail(f"{where}{key}[{i}]", f"must match {pattern.pattern}")
    return items


def email(data: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = string(data, key, "", required=required)
    if value is not None and not EMAIL_RE.match(value):
        raise fail(key, "must be a valid e-mail address")
    return value


def country(data: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = string(data, key, "", required=required, pattern=COUNTRY_RE)
    return value.upper() if value is not None else None


def date_only(data: dict[str, Any], key: str) -> str | None:
    value = string(data, key, "", required=False)
    if value is None:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise fail(key, "must be a date in the form YYYY-MM-DD") from None
    if len(value) != 10:
        raise fail(key, "must be a date in the form YYYY-MM-DD")
    return value


def datetime_value(data: dict[str, Any], key: str, where: str) -> dt.datetime | None:
    value = string(data, key, where, required=False)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{where}{key}", "must be an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def path_id(value: str, what: str, code: str) -> str:
    """Reject path identifiers that cannot be well-formed ids (400, per the doc)."""
    if not PATH_ID_RE.match(value):
        raise bad_request(code, f"{what} {value!r} is badly formatted.")
    return value


def uuid_path(value: str, what: str, code: str) -> str:
    if not UUID_RE.match(value):
        raise bad_request(code, f"{what} {value!r} must be a UUID.")
    return value


def format_datetime(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def need_str(
    data: dict[str, Any],
    key: str,
    where: str = "",
    *,
    pattern: re.Pattern[str] | None = None,
    non_empty: bool = False,
) -> str:
    value = string(data, key, where, required=True, pattern=pattern, non_empty=non_empty)
    if value is None:  # pragma: no cover - string() raised already
        raise fail(f"{where}{key}", "is required")
    return value


def need_obj(data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = obj(data, key, where, required=True)
    if value is None:  # pragma: no cover
        raise fail(f"{where}{key}", "is required")
    return value


def need_email(data: dict[str, Any], key: str = "email") -> str:
    value = email(data, key, required=True)
    if value is None:  # pragma: no cover
        raise fail(key, "is required")
    return value


def need_country(data: dict[str, Any], key: str = "countryCode") -> str:
    value = country(data, key, required=True)
    if value is None:  # pragma: no cover
        raise fail(key, "is required")
    return value
