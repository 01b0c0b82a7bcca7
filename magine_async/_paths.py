"""Safe URL paths and header values.

Every path parameter goes into the URL as exactly one percent-encoded segment, so a user id such
as ``"../viewables"`` or ``"a/b"`` can never address another endpoint. Values that no encoding
makes safe (empty, ``.``, ``..`` and their ``%2e`` spellings, NUL, CR, LF) are refused with a
:class:`ValidationError` before anything is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, unquote

from ._errors import ValidationError

__all__ = ["PathTemplate", "check_header_value", "quote_segment"]

_FORBIDDEN_CHARS = ("\x00", "\r", "\n")
# Characters that need no encoding in a path segment; a value made only of them (and not "."
# or "..") is sent as it is, which spares the common case (ids) the quote/unquote round.
_PLAIN = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def quote_segment(value: str | int, field: str) -> str:
    """Percent-encode ``value`` as one path segment, or raise ValidationError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(field, f"must be a string, not {type(value).__name__}")
    text = str(value)
    if _PLAIN.fullmatch(text) is not None:
        return text
    if text == "":
        raise ValidationError(field, "must not be empty")
    decoded = unquote(text)
    for candidate in (text, decoded):
        if any(ch in candidate for ch in _FORBIDDEN_CHARS):
            raise ValidationError(field, "must not contain NUL, CR or LF")
        if candidate in (".", ".."):
            raise ValidationError(field, "must not be '.' or '..' (or their %2e forms)")
    return quote(text, safe="")


def check_header_value(value: str, field: str) -> str:
    """Return ``value`` if it can be sent as an HTTP header value; ValidationError otherwise.

    The value itself is never echoed in the error: header values are usually credentials.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {type(value).__name__}")
    if any(ch in value for ch in _FORBIDDEN_CHARS):
        raise ValidationError(field, "must not contain NUL, CR or LF")
    return value


class PathTemplate:
    """A path such as ``/partner/users/{userId}/entitlements/{offerId}``, compiled once."""

    __slots__ = ("_fields", "_literals", "names", "template")

    def __init__(self, template: str) -> None:
        self.template = template
        self.names: tuple[str, ...] = tuple(_PLACEHOLDER.findall(template))
        self._fields: tuple[str, ...] = tuple(_snake(name) for name in self.names)
        self._literals: tuple[str, ...] = tuple(_PLACEHOLDER.split(template)[::2])

    def render(self, params: Sequence[str | int]) -> str:
        """Fill the placeholders, in order, each as one encoded segment."""
        if len(params) != len(self.names):
            raise TypeError(
                f"{self.template} takes {len(self.names)} path parameters, got {len(params)}"
            )
        if not params:
            return self.template
        literals = self._literals
        fields = self._fields
        parts = [literals[0]]
        for index, value in enumerate(params):
            parts.append(quote_segment(value, fields[index]))
            parts.append(literals[index + 1])
        return "".join(parts)

    def __repr__(self) -> str:
        return f"PathTemplate({self.template!r})"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
