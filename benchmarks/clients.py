"""The clients compared by the benchmarks, each doing the same four things.

- ``sdk``: magine_async as a user would use it.
- ``raw``: aiohttp plus msgspec Structs with the same fields (the floor a hand-written client
  could reach).
- ``httpx_pydantic``: httpx.AsyncClient plus pydantic v2 ``model_validate_json`` (what a user
  would otherwise write).
- ``httpx_msgspec``: httpx plus the same msgspec Structs (separates transport from decoding).

Every client decodes into typed objects and touches ``metadata.title`` of each viewable.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import msgspec
from common import mint_token

# --------------------------------------------------------------------------- msgspec shapes


class _S(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    pass


class RRating(_S, kw_only=True):
    system: str
    rating: str
    reasons: list[str] | None = None


class RImage(_S, kw_only=True):
    type: str
    filename: str


class RMetadata(_S, kw_only=True):
    kind: str
    title: str
    synopsis: str | None = None
    genres: list[str] | None = None
    labels: list[str] | None = None
    viewable_window_start: int | None = None
    viewable_window_end: int | None = None
    country_blacklist: list[str] | None = None
    country_whitelist: list[str] | None = None
    show_id: str | None = None
    season: int | None = None
    episode: int | None = None
    ratings: list[RRating] | None = None
    custom_id: str | None = None
    images: list[RImage] | None = None


class RResolution(_S, kw_only=True):
    width: int
    height: int


class RRights(_S, kw_only=True):
    source_id: str
    offline_available: bool


class RSubtitleTrack(_S, kw_only=True):
    language: str
    subtitle_type: str


class RAudioChannels(_S, kw_only=True):
    channels: int
    language: str


class RVod(_S, kw_only=True):
    asset_id: str
    source: str
    source_id: str
    status: str
    created_at: int | None = None
    modified_at: int | None = None
    rights: RRights | None = None
    publish: bool | None = None
    vod_pipeline: str
    duration: int | float | None = None
    viewable_id: str | None = None
    drm_activated: bool
    drm_type: str | None = None
    subtitle_languages: list[str] | None = None
    subtitle_tracks: list[RSubtitleTrack] | None = None
    audio_languages: list[str] | None = None
    source_resolution: RResolution | None = None
    audio_chans_per_lang: list[RAudioChannels] | None = None


class RLiveEvent(_S, kw_only=True):
    id: str
    start_time_utc: int


class RExtendedRights(_S, kw_only=True):
    pause: bool
    rewind: bool
    fast_forward: bool


class RBroadcast(_S, kw_only=True):
    id: str
    source_id: str
    start_time_utc: int
    stop_time_utc: int
    catchup_from: int
    catchup_to: int
    channel_viewable_id: str
    duration: int | float
    extended_rights: RExtendedRights


class RChannelPlayable(_S, kw_only=True):
    id: str
    stream_id: str
    duration: int | float
    verify_age: bool
    extended_rights: RExtendedRights


class RViewable(_S, kw_only=True):
    id: str
    partner_id: str
    metadata: RMetadata
    created_at: int
    modified_at: int
    publish: bool
    vods: list[RVod] | None = None
    live_events: list[RLiveEvent] | None = None
    broadcasts: list[RBroadcast] | None = None
    channel_playable: RChannelPlayable | None = None


class RPage(_S, kw_only=True):
    viewables: list[RViewable]
    cursor: str | None = None


class RUserId(_S, kw_only=True):
    user_id: str


class REntitlementSuccess(_S, kw_only=True):
    offer_id: str
    offer_type: str
    purchased_at: str
    expiry: str | None = None


class REntitlementResult(_S, kw_only=True):
    offer_id: str
    success_output: REntitlementSuccess | None = None
    failure_message: str | None = None


class RResults(_S, kw_only=True):
    results: list[REntitlementResult]


PAGE = msgspec.json.Decoder(RPage)
VIEWABLE = msgspec.json.Decoder(RViewable)
USER_ID = msgspec.json.Decoder(RUserId)
RESULTS = msgspec.json.Decoder(RResults)
ENCODER = msgspec.json.Encoder()


class Client(Protocol):
    async def get_viewable(self, viewable_id: str) -> Any: ...
    async def lookup(self, email: str) -> str: ...
    async def stream(self, page_size: int, limit: int) -> int: ...
    async def entitle(self, user_id: str, offer_id: str) -> None: ...
    async def aclose(self) -> None: ...


def _headers(info: dict[str, Any]) -> dict[str, str]:
    token = mint_token(info["issuer"], info["private_key_file"])
    return {
        "Magine-AccessToken": info["access_token"],
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
    }


# --------------------------------------------------------------------------- the SDK


class SdkClient:
    def __init__(self, info: dict[str, Any], connections: int) -> None:
        from magine_async import MagineClient

        self.client = MagineClient(
            access_token=info["access_token"],
            issuer=info["issuer"],
            private_key=Path(info["private_key_file"]),
            base_url=info["base_url"],
            max_connections=connections,
        )

    async def start(self) -> None:
        await self.client.__aenter__()
        await self.client.test()  # key loaded and JWT cached before measuring

    async def get_viewable(self, viewable_id: str) -> Any:
        return await self.client.viewables.get(viewable_id)

    async def lookup(self, email: str) -> str:
        return await self.client.users.lookup(email)

    async def stream(self, page_size: int, limit: int) -> int:
        count = 0
        async with self.client.viewables.list(page_size=page_size) as pager:
            async for viewable in pager:
                _ = viewable.metadata.title
                count += 1
                if count >= limit:
                    break
        return count

    async def entitle(self, user_id: str, offer_id: str) -> None:
        from magine_async.models import EntitlementInput

        result = await self.client.users.entitlements.create(
            user_id, [EntitlementInput(offer_id=offer_id)]
        )
        if result.failed:
            raise RuntimeError(f"entitlement failed: {result.failed}")

    async def aclose(self) -> None:
        await self.client.aclose()


# --------------------------------------------------------------------------- hand-written


class _PlainClient:
    """What a hand-written client does over any transport: subclasses give ``start``,
    ``_get``, ``_post`` and ``aclose``; the decoders are msgspec unless replaced."""

    page_decode: Any = staticmethod(PAGE.decode)
    viewable_decode: Any = staticmethod(VIEWABLE.decode)
    user_id_decode: Any = staticmethod(lambda body: USER_ID.decode(body).user_id)
    results_decode: Any = staticmethod(RESULTS.decode)

    def __init__(self, info: dict[str, Any], connections: int) -> None:
        self.info = info
        self.connections = connections
        self.base = info["base_url"]

    async def _get(self, url: str, params: dict[str, str] | None = None) -> bytes:
        raise NotImplementedError

    async def _post(self, url: str, payload: Any) -> bytes:
        raise NotImplementedError

    async def get_viewable(self, viewable_id: str) -> Any:
        return self.viewable_decode(await self._get(f"{self.base}/partner/viewables/{viewable_id}"))

    async def lookup(self, email: str) -> str:
        body = await self._post(f"{self.base}/partner/users/lookup", {"email": email})
        return str(self.user_id_decode(body))

    async def stream(self, page_size: int, limit: int) -> int:
        count = 0
        cursor: str | None = None
        url = f"{self.base}/partner/viewables"
        while True:
            params = {"size": str(page_size)}
            if cursor:
                params["cursor"] = cursor
            page = self.page_decode(await self._get(url, params))
            for viewable in page.viewables:
                _ = viewable.metadata.title
                count += 1
                if count >= limit:
                    return count
            cursor = page.cursor
            if cursor is None:
                return count

    async def entitle(self, user_id: str, offer_id: str) -> None:
        body = await self._post(
            f"{self.base}/partner/users/{user_id}/entitlements", [{"offerId": offer_id}]
        )
        self.results_decode(body)


class RawClient(_PlainClient):
    """aiohttp + msgspec."""

    session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            headers=_headers(self.info),
            connector=aiohttp.TCPConnector(limit=self.connections, limit_per_host=self.connections),
        )

    async def _get(self, url: str, params: dict[str, str] | None = None) -> bytes:
        assert self.session is not None
        async with self.session.get(url, params=params) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            return body

    async def _post(self, url: str, payload: Any) -> bytes:
        assert self.session is not None
        async with self.session.post(
            url, data=ENCODER.encode(payload), headers={"Content-Type": "application/json"}
        ) as response:
            body = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"HTTP {response.status}")
            return body

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


class HttpxMsgspecClient(_PlainClient):
    """httpx + msgspec."""

    client: Any = None

    async def start(self) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            headers=_headers(self.info),
            limits=httpx.Limits(
                max_connections=self.connections, max_keepalive_connections=self.connections
            ),
            timeout=60.0,
        )

    async def _get(self, url: str, params: dict[str, str] | None = None) -> bytes:
        response = await self.client.get(url, params=params)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        return bytes(response.content)

    async def _post(self, url: str, payload: Any) -> bytes:
        response = await self.client.post(
            url, content=ENCODER.encode(payload), headers={"Content-Type": "application/json"}
        )
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}")
        return bytes(response.content)

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


def _pydantic_decoders() -> dict[str, Any]:
    from pydantic import BaseModel, ConfigDict
    from pydantic.alias_generators import to_camel

    class M(BaseModel):
        model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    class PRating(M):
        system: str
        rating: str
        reasons: list[str] | None = None

    class PImage(M):
        type: str
        filename: str

    class PMetadata(M):
        kind: str
        title: str
        synopsis: str | None = None
        genres: list[str] | None = None
        labels: list[str] | None = None
        viewable_window_start: int | None = None
        viewable_window_end: int | None = None
        country_blacklist: list[str] | None = None
        country_whitelist: list[str] | None = None
        show_id: str | None = None
        season: int | None = None
        episode: int | None = None
        ratings: list[PRating] | None = None
        custom_id: str | None = None
        images: list[PImage] | None = None

    class PResolution(M):
        width: int
        height: int

    class PRights(M):
        source_id: str
        offline_available: bool

    class PSubtitleTrack(M):
        language: str
        subtitle_type: str

    class PAudioChannels(M):
        channels: int
        language: str

    class PVod(M):
        asset_id: str
        source: str
        source_id: str
        status: str
        created_at: int | None = None
        modified_at: int | None = None
        rights: PRights | None = None
        publish: bool | None = None
        vod_pipeline: str
        duration: int | float | None = None
        viewable_id: str | None = None
        drm_activated: bool
        drm_type: str | None = None
        subtitle_languages: list[str] | None = None
        subtitle_tracks: list[PSubtitleTrack] | None = None
        audio_languages: list[str] | None = None
        source_resolution: PResolution | None = None
        audio_chans_per_lang: list[PAudioChannels] | None = None

    class PLiveEvent(M):
        id: str
        start_time_utc: int

    class PExtendedRights(M):
        pause: bool
        rewind: bool
        fast_forward: bool

    class PBroadcast(M):
        id: str
        source_id: str
        start_time_utc: int
        stop_time_utc: int
        catchup_from: int
        catchup_to: int
        channel_viewable_id: str
        duration: int | float
        extended_rights: PExtendedRights

    class PChannelPlayable(M):
        id: str
        stream_id: str
        duration: int | float
        verify_age: bool
        extended_rights: PExtendedRights

    class PViewable(M):
        id: str
        partner_id: str
        metadata: PMetadata
        created_at: int
        modified_at: int
        publish: bool
        vods: list[PVod] | None = None
        live_events: list[PLiveEvent] | None = None
        broadcasts: list[PBroadcast] | None = None
        channel_playable: PChannelPlayable | None = None

    class PPage(M):
        viewables: list[PViewable]
        cursor: str | None = None

    class PUserId(M):
        user_id: str

    class PSuccess(M):
        offer_id: str
        offer_type: str
        purchased_at: str
        expiry: str | None = None

    class PResult(M):
        offer_id: str
        success_output: PSuccess | None = None
        failure_message: str | None = None

    class PResults(M):
        results: list[PResult]

    return {
        "page": PPage.model_validate_json,
        "viewable": PViewable.model_validate_json,
        "user_id": lambda body: PUserId.model_validate_json(body).user_id,
        "results": PResults.model_validate_json,
    }


class HttpxPydanticClient(HttpxMsgspecClient):
    def __init__(self, info: dict[str, Any], connections: int) -> None:
        super().__init__(info, connections)
        decoders = _pydantic_decoders()
        self.page_decode = decoders["page"]
        self.viewable_decode = decoders["viewable"]
        self.user_id_decode = decoders["user_id"]
        self.results_decode = decoders["results"]


CLIENTS: dict[str, Any] = {
    "sdk": SdkClient,
    "raw": RawClient,
    "httpx_pydantic": HttpxPydanticClient,
    "httpx_msgspec": HttpxMsgspecClient,
}


async def make_client(kind: str, info: dict[str, Any], connections: int = 100) -> Any:
    client = CLIENTS[kind](info, connections)
    await client.start()
    await asyncio.sleep(0)
    return client
