"""In-memory platform state: catalogue, users, offers, entitlements, media jobs."""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._catalogue import Catalogue
from ._clock import SandboxClock
from ._counters import Counters
from ._generator import CatalogueGenerator, default_offers, default_reseller_offers
from ._validate import format_datetime

SWEDISH_RATING_SYSTEM: dict[str, Any] = {
    "id": "sm-sa",
    "name": "The Swedish Media Councils classification system ",
    "country": "SE",
    "ratings": [
        [{"id": "btl", "name": "Btl", "description": "All ages"}],
        [{"id": "7", "name": "7", "description": "Recommended from the age of 7"}],
        [{"id": "11", "name": "11", "description": "Recommended from the age of 11"}],
        [{"id": "15", "name": "15", "description": "Recommended from the age of 15"}],
        [{"id": "18", "name": "18", "description": "Not suited for children"}],
    ],
}

DEFAULT_SEGMENTS = ("vip", "newsletter", "churn-risk", "sports-fans", "kids-profile")
DEFAULT_RESELLER_ID = "sandbox-reseller"
_USER_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Offer:
    offer_id: str
    offer_type: str
    title: str = ""


@dataclass
class Entitlement:
    offer_id: str
    offer_type: str
    purchased_at: dt.datetime
    expiry: dt.datetime | None = None
    source: str | None = None
    message: str | None = None

    def active(self, now: float) -> bool:
        return self.expiry is None or self.expiry.timestamp() > now

    def output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "offerId": self.offer_id,
            "purchasedAt": format_datetime(self.purchased_at),
        }
        if self.expiry is not None:
            out["expiry"] = format_datetime(self.expiry)
        out["offerType"] = self.offer_type
        if self.source is not None:
            out["source"] = self.source
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass
class User:
    user_id: str
    email: str
    country: str
    created: int
    name: str | None = None
    locale: str | None = None
    birth_date: str | None = None
    zip_code: str | None = None
    gender: str | None = None
    password: str | None = None
    tags: set[str] = field(default_factory=set)
    segments: set[str] = field(default_factory=set)
    entitlements: dict[str, Entitlement] = field(default_factory=dict)
    play_sessions: dict[str, bool] = field(default_factory=dict)  # id -> revoked
    resellers: dict[str, str] = field(default_factory=dict)  # reseller id -> claim date
    login_generation: int = 0

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "userId": self.user_id,
            "country": self.country,
            "createdTimestamp": self.created,
        }
        for key, value in (
            ("locale", self.locale),
            ("email", self.email),
            ("name", self.name),
            ("zipCode", self.zip_code),
            ("gender", self.gender),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass
class TranscodeJob:
    asset_id: str
    source_id: str
    viewable_id: str | None
    request: dict[str, Any]
    vod: dict[str, Any]


@dataclass
class SubtitleRequest:
    request_id: str
    request_type: str  # create | delete
    asset_id: str
    language: str
    subtitle_type: str
    created: int
    updated: int
    status: str = "RUNNING"
    error_message: str | None = None
    failure: str | None = None  # set when the request will end FAILED

    def output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requestId": self.request_id,
            "requestType": self.request_type,
            "playableId": self.asset_id,
            "subtitleLanguage": self.language,
            "subtitleType": self.subtitle_type,
            "createdAt": self.created,
            "updatedAt": self.updated,
            "status": self.status,
        }
        if self.error_message is not None:
            out["errorMessage"] = self.error_message
        return out


class SandboxState:
    """Everything the sandbox serves. Mutate it in-process to arrange a test."""

    def __init__(
        self,
        *,
        seed: int = 0,
        viewables: int = 0,
        users: int = 10,
        partner_id: str = "magine-pro-sandbox",
        clock: SandboxClock | None = None,
        counters: Counters | None = None,
        subtitle_delay: float = 2.0,
        transcode_delay: float = 5.0,
    ) -> None:
        self.seed = seed
        self.partner_id = partner_id
        self.clock = clock or SandboxClock()
        self.counters = counters or Counters()
        self.subtitle_delay = subtitle_delay
        self.transcode_delay = transcode_delay
        self.parental_control = True
        self.rating_systems: dict[str, dict[str, Any]] = {"sm-sa": SWEDISH_RATING_SYSTEM}
        self.generator = CatalogueGenerator(seed, partner_id)
        self.catalogue = Catalogue(self.generator)
        self.catalogue.generate(viewables)
        self.users: dict[str, User] = {}
        self._emails: dict[str, str] = {}
        self.offers: dict[str, Offer] = {
            o.offer_id: Offer(o.offer_id, o.offer_type, o.title) for o in default_offers()
        }
        self.reseller_offers: dict[str, dict[str, str]] = {
            DEFAULT_RESELLER_ID: default_reseller_offers()
        }
        self.segments: set[str] = set(DEFAULT_SEGMENTS)
        # S3 object keys an image PUT reports as missing (400 imageNotFound)
        self.missing_image_keys: set[str] = set()
        self.transcode_jobs: dict[str, TranscodeJob] = {}
        self.subtitle_requests: dict[str, SubtitleRequest] = {}
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._timer_seq = 0
        self._rng = random.Random(f"magine-sandbox-state:{seed}")
        self._trace_rng = random.Random(f"magine-sandbox-trace:{seed}")
        self._generate_users(users)

    # -- basics --------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    def new_uuid(self) -> str:
        bits = self._rng.getrandbits(128)
        bits = (bits & ~(0xF << 76)) | (4 << 76)  # version 4
        bits = (bits & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def new_user_id(self) -> str:
        while True:
            user_id = "".join(self._rng.choice(_USER_ID_ALPHABET) for _ in range(28))
            if user_id not in self.users:
                return user_id

    def trace_id(self) -> str:
        return f"{self._trace_rng.getrandbits(64):016x}"

    def schedule(self, delay: float, callback: Callable[[float], None]) -> None:
        """Run ``callback(due_time)`` once the clock reaches now + delay (checked on every
        request and by :meth:`tick`)."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (self.clock() + delay, self._timer_seq, callback))

    def tick(self) -> None:
        if not self._timers:
            return
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            due, _, callback = heapq.heappop(self._timers)
            callback(due)

    # -- viewables -----------------------------------------------------------------------

    def touch_viewables(
        self, count: int, *, at: float | None = None, start: int = 0, step: int | None = None
    ) -> list[str]:
        """Bump modifiedAt of ``count`` viewables (spread evenly over the catalogue unless
        ``step`` is given) to ``at`` (default: now). Returns their ids."""
        total = len(self.catalogue)
        if total == 0 or count <= 0:
            return []
        count = min(count, total)
        stride = step if step is not None else max(1, total // count)
        stamp = int(self.clock() if at is None else at)
        ids: list[str] = []
        position = start
        while len(ids) < count:
            index = position % total
            doc = self.catalogue.doc(index)
            doc["modifiedAt"] = stamp
            self.catalogue.replace(index, doc)
            ids.append(str(doc["id"]))
            position += stride
        self.counters.effect("viewables.touched", len(ids))
        return ids

    def viewable_index(self, viewable_id: str) -> int | None:
        return self.catalogue.find_id(viewable_id)

    # -- users ---------------------------------------------------------------------------

    def _generate_users(self, count: int) -> None:
        offers = list(self.offers.values())
        for gen in self.generator.users(count):
            user = User(
                gen.user_id, gen.email, gen.country, gen.created, name=gen.name, locale=gen.locale
            )
            r = random.Random(f"{self.seed}:{gen.user_id}")
            for offer in r.sample(offers, r.randint(0, 2)):
                user.entitlements[offer.offer_id] = Entitlement(
                    offer.offer_id,
                    offer.offer_type,
                    dt.datetime.fromtimestamp(gen.created + 86_400, dt.UTC),
                    source="sandbox-seed",
                )
            for _ in range(r.randint(0, 3)):
                user.play_sessions[self.new_uuid()] = False
            self._store_user(user)

    def _store_user(self, user: User) -> None:
        self.users[user.user_id] = user
        self._emails[user.email.lower()] = user.user_id

    def user_by_email(self, email: str) -> User | None:
        user_id = self._emails.get(email.lower())
        return self.users.get(user_id) if user_id is not None else None

    def create_user(self, email: str, country: str, **fields: Any) -> User:
        """Create a user (e-mail must be free); counts ``users.created``."""
        if self.user_by_email(email) is not None:
            raise ValueError(f"e-mail {email!r} is taken")
        user = User(self.new_user_id(), email, country.upper(), self.now(), **fields)
        self._store_user(user)
        self.counters.effect("users.created")
        return user

    def change_email(self, user: User, email: str) -> None:
        self._emails.pop(user.email.lower(), None)
        user.email = email
        self._emails[email.lower()] = user.user_id

    def delete_user(self, user: User) -> None:
        del self.users[user.user_id]
        self._emails.pop(user.email.lower(), None)
        self.counters.effect("users.deleted")
        if user.entitlements:
            self.counters.effect("entitlements.cancelled", len(user.entitlements))

    def add_play_session(self, user_id: str) -> str:
        session_id = self.new_uuid()
        self.users[user_id].play_sessions[session_id] = False
        return session_id

    # -- offers and resellers ------------------------------------------------------------

    def add_offer(self, offer_id: str, offer_type: str, title: str = "") -> Offer:
        offer = Offer(offer_id, offer_type, title)
        self.offers[offer_id] = offer
        return offer

    def add_reseller_offer(self, reseller_id: str, reseller_offer_id: str, offer_id: str) -> None:
        self.reseller_offers.setdefault(reseller_id, {})[reseller_offer_id] = offer_id

    # -- vods ------------------------------------------------------------------------------

    def find_vod(self, asset_id: str) -> dict[str, Any] | None:
        job = self.transcode_jobs.get(asset_id)
        if job is not None:
            return job.vod
        index = self.catalogue.find_asset_id(asset_id)
        if index is None:
            return None
        for vod in self.catalogue.doc(index).get("vods") or ():
            if isinstance(vod, dict) and vod.get("assetId") == asset_id:
                return vod
        return None

    def update_vod(
        self, asset_id: str, change: Callable[[dict[str, Any]], None], at: float | None = None
    ) -> None:
        """Apply ``change`` to the vod wherever it is kept; bumps the modifiedAt stamps."""
        stamp = int(self.clock() if at is None else at)
        job = self.transcode_jobs.get(asset_id)
        if job is not None:
            change(job.vod)
            job.vod["modifiedAt"] = stamp
        index = self.catalogue.find_asset_id(asset_id)
        if index is None:
            return
        doc = self.catalogue.doc(index)
        vods = doc.get("vods") or []
        for i, vod in enumerate(vods):
            if isinstance(vod, dict) and vod.get("assetId") == asset_id:
                if job is not None:
                    vods[i] = dict(job.vod)
                else:
                    change(vod)
                    vod["modifiedAt"] = stamp
        doc["modifiedAt"] = max(stamp, int(doc.get("modifiedAt", 0)))
        self.catalogue.replace(index, doc)

    def attach_vod(self, viewable_index: int, vod: dict[str, Any]) -> None:
        doc = self.catalogue.doc(viewable_index)
        vods = doc.get("vods")
        if not isinstance(vods, list):
            vods = doc["vods"] = []
        vods.append(dict(vod))
        doc["modifiedAt"] = self.now()
        self.catalogue.replace(viewable_index, doc)
