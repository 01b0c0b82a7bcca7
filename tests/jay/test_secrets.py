"""The API key and the session value never show up in a repr, an error or a log line."""

from __future__ import annotations

import logging

import pytest

from magine_async import APIError, MagineError
from magine_async.sandbox._jay import JaySandbox

from .conftest import MakeClient


@pytest.mark.parametrize("version", ["2025-08-04", "2025-09-02"])
async def test_no_secret_in_reprs_errors_or_debug_logs(
    jay: JaySandbox,
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    no_secret_leaks: list[str],
    version: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="magine_async")
    texts: list[str] = []
    errors: list[MagineError] = []
    async with make_client(api_version=version, playout_id="p-9") as client:
        created = await client.tracking.create(user_id="u-secret-test")
        value = created.value
        no_secret_leaks.append(value)
        found = await client.tracking.get(session=value)
        deleted = await client.tracking.delete(session=created)
        texts += [repr(client), repr(client.tracking), repr(created), str(created)]
        texts += [repr(found), repr(deleted), repr(created.session)]

        # The same value with a byte changed: a valid-looking session the server rejects.
        tampered = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
        no_secret_leaks.append(tampered)
        for op in (client.tracking.get, client.tracking.delete):
            try:
                await op(session=tampered)
            except MagineError as exc:
                errors.append(exc)

    async with make_client(
        api_key="jay-bad-key-1234abcd", api_version=version, playout_id="p-9"
    ) as bad:
        no_secret_leaks.append("jay-bad-key-1234abcd")
        try:
            await bad.tracking.get(session=value)
        except MagineError as exc:
            errors.append(exc)
        texts.append(repr(bad))

    assert len(errors) >= 2
    assert all(isinstance(error, APIError) for error in errors)
    for error in errors:
        texts += [str(error), repr(error), repr(error.args)]
        assert isinstance(error, APIError)
        texts += [*error.messages, error.body_excerpt]
    debug_lines = [record.getMessage() for record in caplog.records]
    assert any("tracking/session -> 200" in line for line in debug_lines)
    texts += debug_lines

    for secret in (jay.api_key, "jay-bad-key-1234abcd", value, tampered):
        for text in texts:
            assert secret not in text, text
