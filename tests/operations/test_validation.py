"""Every documented rule is checked before sending: a ValidationError naming the field and
the rule, and no request at all reaches the server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from magine_async import MagineClient, ValidationError
from magine_async.models import (
    AudioOutput,
    EntitlementInput,
    FrameRate,
    HttpImageSource,
    Outputs,
    Resolution,
    ViewableMetadata,
)

from ..support import ScriptedServer
from .test_each_operation import TRANSCODE, USER, UUID

NOW = dt.datetime.now(dt.UTC)


def transcode(**changes: Any) -> Any:
    """A copy of the valid transcode request with one part broken."""
    request = msgspec.structs.replace(TRANSCODE)
    tracks = msgspec.structs.replace(request.tracks)
    video = msgspec.structs.replace(tracks.video)
    audio = [msgspec.structs.replace(a) for a in tracks.audio]
    inputs = [msgspec.structs.replace(i) for i in request.inputs]
    tracks.video = video
    tracks.audio = audio
    request.tracks = tracks
    request.inputs = inputs
    for key, value in changes.items():
        target, _, attr = key.partition("__")
        obj = {"request": request, "video": video, "audio0": audio[0], "input0": inputs[0]}[target]
        setattr(obj, attr, value)
    return request


Call = Callable[[MagineClient], Awaitable[Any]]

CASES: list[tuple[str, Call, str, str]] = [
    # (id, call, field, words of the rule)
    ("viewable id pattern", lambda c: c.viewables.get("abc"), "viewable_id", "UUID"),
    (
        "viewable id on replace",
        lambda c: c.viewables.replace("12ab", metadata={"kind": "movie", "title": "x"}),
        "viewable_id",
        "UUID",
    ),
    ("viewable id on patch", lambda c: c.viewables.patch("../x", title="x"), "viewable_id", "UUID"),
    (
        "viewable id on image",
        lambda c: c.viewables.put_image("x", "poster", HttpImageSource(uri="https://a.b/c.jpg")),
        "viewable_id",
        "UUID",
    ),
    (
        "image uri",
        lambda c: c.viewables.put_image(UUID, "poster", HttpImageSource(uri="ftp://a/b")),
        "source.uri",
        "http",
    ),
    (
        "metadata kind",
        lambda c: c.viewables.create({"kind": "podcast", "title": "x"}),
        "metadata.kind",
        "one of",
    ),
    (
        "metadata title",
        lambda c: c.viewables.create({"kind": "movie", "title": ""}),
        "metadata.title",
        "empty",
    ),
    (
        "episode needs show id",
        lambda c: c.viewables.create(ViewableMetadata(kind="episode", title="E1")),
        "metadata.show_id",
        "required",
    ),
    (
        "show id pattern",
        lambda c: c.viewables.create(
            ViewableMetadata(kind="episode", title="E1", show_id="show-1")
        ),
        "metadata.show_id",
        "UUID",
    ),
    (
        "country list codes",
        lambda c: c.viewables.create(
            ViewableMetadata(kind="movie", title="x", country_blacklist=["Sweden"])
        ),
        "metadata.country_blacklist[0]",
        "ISO 3166",
    ),
    (
        "window epoch",
        lambda c: c.viewables.create(
            ViewableMetadata(kind="movie", title="x", viewable_window_start=-5)
        ),
        "metadata.viewable_window_start",
        "epoch",
    ),
    (
        "patch country list",
        lambda c: c.viewables.patch(UUID, country_whitelist=["XX"]),
        "patch.country_whitelist[0]",
        "ISO 3166",
    ),
    ("page size", lambda c: c.viewables.list(page_size=0).first_page(), "page_size", ">= 1"),
    (
        "created after naive",
        lambda c: c.viewables.list(created_after=dt.datetime(2024, 1, 1)).first_page(),
        "created_after",
        "timezone-aware",
    ),
    (
        "modified after negative",
        lambda c: c.viewables.list(modified_after=-1).first_page(),
        "modified_after",
        "epoch",
    ),
    ("user id empty", lambda c: c.users.get(""), "user_id", "empty"),
    (
        "e-mail shape",
        lambda c: c.users.create(email="not-an-email", country_code="SE"),
        "email",
        "e-mail",
    ),
    ("lookup e-mail shape", lambda c: c.users.lookup("a@b"), "email", "e-mail"),
    (
        "country code",
        lambda c: c.users.create(email="a@example.com", country_code="XX"),
        "country_code",
        "ISO 3166-1",
    ),
    (
        "country code length",
        lambda c: c.users.create(email="a@example.com", country_code="SWE"),
        "country_code",
        "ISO 3166-1",
    ),
    (
        "reseller country code",
        lambda c: c.reseller.users.provision(email="a@example.com", country_code="Sweden"),
        "country_code",
        "ISO 3166-1",
    ),
    (
        "reseller e-mail",
        lambda c: c.reseller.users.provision(email="a b@example.com", country_code="SE"),
        "email",
        "e-mail",
    ),
    ("patch e-mail", lambda c: c.users.patch(USER, email="nope"), "email", "e-mail"),
    (
        "play session id",
        lambda c: c.users.play_sessions.revoke(USER, "session-1"),
        "play_session_id",
        "UUID",
    ),
    (
        "entitlements min items",
        lambda c: c.users.entitlements.create(USER, []),
        "entitlements",
        "at least one",
    ),
    (
        "purchased at in the past",
        lambda c: c.users.entitlements.create(
            USER, [EntitlementInput(offer_id="o", purchased_at=NOW + dt.timedelta(days=1))]
        ),
        "entitlements[0].purchased_at",
        "past",
    ),
    (
        "expiry in the future",
        lambda c: c.users.entitlements.create(
            USER, [EntitlementInput(offer_id="o", expiry=NOW - dt.timedelta(days=1))]
        ),
        "entitlements[0].expiry",
        "future",
    ),
    (
        "naive purchased at",
        lambda c: c.users.entitlements.create(
            USER, [EntitlementInput(offer_id="o", purchased_at=dt.datetime(2020, 1, 1))]
        ),
        "entitlements[0].purchased_at",
        "timezone",
    ),
    (
        "offer id empty",
        lambda c: c.users.entitlements.create(USER, [EntitlementInput(offer_id="")]),
        "entitlements[0].offer_id",
        "empty",
    ),
    (
        "subtitle language",
        lambda c: c.subtitles.upload(UUID, b"x", language="en"),
        "subtitle_language",
        "three lower-case",
    ),
    (
        "subtitle language case",
        lambda c: c.subtitles.upload(UUID, b"x", language="ENG"),
        "subtitle_language",
        "three lower-case",
    ),
    (
        "subtitle upload type",
        lambda c: c.subtitles.upload(UUID, b"x", language="eng", subtitle_type="cc"),
        "subtitle_type",
        "normal",
    ),
    (
        "subtitle delete language",
        lambda c: c.subtitles.delete(UUID, language="english", subtitle_type="normal"),
        "subtitle_lang",
        "three lower-case",
    ),
    (
        "subtitle delete type",
        lambda c: c.subtitles.delete(UUID, language="eng", subtitle_type="karaoke"),
        "subtitle_type",
        "one of",
    ),
    ("abort asset id", lambda c: c.transcode.abort("asset-1"), "asset_id", "UUID"),
    (
        "source id pattern",
        lambda c: c.transcode.create(transcode(request__source_id="bad%id")),
        "source_id",
        "2",
    ),
    (
        "source id length",
        lambda c: c.transcode.create(transcode(request__source_id="a")),
        "source_id",
        "2",
    ),
    (
        "inputs min items",
        lambda c: c.transcode.create(transcode(request__inputs=[])),
        "inputs",
        "at least 1",
    ),
    (
        "input source leading slash",
        lambda c: c.transcode.create(transcode(input0__source="/bucket/key.mp4")),
        "inputs[0].source",
        "slash",
    ),
    ("input name", lambda c: c.transcode.create(transcode(input0__name="")), "inputs[0].name", ""),
    (
        "resolution width",
        lambda c: c.transcode.create(
            transcode(video__resolution=Resolution(width=639, height=480))
        ),
        "tracks.video.resolution.width",
        "640",
    ),
    (
        "resolution height",
        lambda c: c.transcode.create(
            transcode(video__resolution=Resolution(width=640, height=479))
        ),
        "tracks.video.resolution.height",
        "480",
    ),
    (
        "frame rate",
        lambda c: c.transcode.create(
            transcode(video__frame_rate=FrameRate(numerator=23, denominator=1))
        ),
        "tracks.video.frame_rate",
        "25/1",
    ),
    (
        "container index",
        lambda c: c.transcode.create(transcode(audio0__container_index=0)),
        "tracks.audio[0].container_index",
        ">= 1",
    ),
    (
        "channels",
        lambda c: c.transcode.create(transcode(audio0__channels=0)),
        "tracks.audio[0].channels",
        ">= 1",
    ),
    (
        "audio language",
        lambda c: c.transcode.create(transcode(audio0__language="english")),
        "tracks.audio[0].language",
        "three lower-case",
    ),
    (
        "audio min items",
        lambda c: c.transcode.create(transcode(audio0__input="nope")),
        "tracks.audio[0].input",
        "inputs",
    ),
    (
        "output tracks min items",
        lambda c: c.transcode.create(
            transcode(request__outputs=Outputs(audio=[AudioOutput(tracks=[])]))
        ),
        "outputs.audio[0].tracks",
        "at least 1",
    ),
    (
        "viewable id of transcode",
        lambda c: c.transcode.create(transcode(request__viewable_id="42")),
        "viewable_id",
        "UUID",
    ),
]


@pytest.mark.parametrize(
    ("call", "field", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_rule_is_enforced_before_sending(
    server: ScriptedServer, client: MagineClient, call: Call, field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await call(client)
    assert info.value.field == field
    assert rule in info.value.rule, info.value.rule
    assert field in str(info.value)
    assert server.seen == []


async def test_lower_case_country_code_is_accepted_and_sent_upper_case(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script((201, b'{"userId": "U1"}', {"Content-Type": "application/json"}))
    await client.users.create(email="a@example.com", country_code="se")
    assert b'"countryCode":"SE"' in server.seen[0].body


async def test_password_is_never_echoed(client: MagineClient, server: ScriptedServer) -> None:
    with pytest.raises(ValidationError) as info:
        await client.users.set_password(USER, "")
    assert info.value.field == "password"
    assert server.seen == []
