"""The sandbox's table of documented answers matches the API document's text.

The document lives beside the repository (``../shared/api-docs``) or where ``MAGINE_API_DOC``
points; without it these tests are skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from magine_async.sandbox import OPERATIONS
from magine_async.sandbox._responses import RESPONSES, flat_properties

_DEFAULT = Path(__file__).resolve().parents[3] / "shared/api-docs/magine-platform-api-v1.txt"
DOC = Path(os.environ.get("MAGINE_API_DOC", _DEFAULT))
_OPERATION = re.compile(r"^(get|post|put|patch|delete) (/\S+)$")
_STATUS = re.compile(r"^HTTP status code (\d{3})$")
_PROPERTY = re.compile(r"^(?:Properties)?- (\w+): (required\()?\(?([a-z-]+)")

pytestmark = pytest.mark.skipif(not DOC.is_file(), reason=f"API document not found at {DOC}")


def _doc_type(text: str) -> str:
    if text.startswith("one"):
        return "enum"
    return {"normal": "enum", "s3": "enum", "http": "enum"}.get(text, text)


def _sections() -> dict[tuple[str, str], dict[int, tuple[str | None, set[tuple[str, bool, str]]]]]:
    """(METHOD, path) -> status -> (media type, {(property, required, type)})."""
    found: dict[tuple[str, str], dict[int, tuple[str | None, set[tuple[str, bool, str]]]]] = {}
    answers: dict[int, tuple[str | None, set[tuple[str, bool, str]]]] | None = None
    status: int | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if match := _OPERATION.match(line):
            answers = found.setdefault((match[1].upper(), match[2]), {})
            status = None
        elif answers is not None and (match := _STATUS.match(line)):
            status = int(match[1])
            answers[status] = (None, set())
        elif answers is not None and status is not None:
            props = answers[status][1]
            if line.startswith("Media type: "):
                answers[status] = (line.removeprefix("Media type: "), props)
            elif match := _PROPERTY.match(line):
                props.add((match[1], match[2] is not None, _doc_type(match[3])))
    return found


SECTIONS = _sections() if DOC.is_file() else {}
ROUTES = {route.operation: (route.method, route.path) for route in OPERATIONS}


def test_every_documented_operation_is_in_the_table() -> None:
    assert set(SECTIONS) == set(ROUTES.values())
    assert set(RESPONSES) == set(ROUTES)


@pytest.mark.parametrize("operation", sorted(ROUTES))
def test_statuses_media_types_and_properties_match_the_document(operation: str) -> None:
    documented = SECTIONS[ROUTES[operation]]
    table = RESPONSES[operation]
    assert sorted(table) == sorted(documented)
    for status, (media_type, properties) in documented.items():
        answer = table[status]
        assert answer.media_type == media_type, status
        shape = flat_properties(answer.body) if answer.body is not None else set()
        assert shape == properties, status
