"""Deterministic, cheap generation of a realistic catalogue, users and offers.

Each generated viewable is produced directly as encoded JSON bytes from byte templates and
pools of pre-encoded fragments (no dict is built, nothing is re-encoded when served).
Identifiers carry their catalogue position, XOR-masked with a seed-derived value, so the
sandbox can find a generated viewable by id, customId, sourceId or assetId without keeping
a dictionary of a million entries: it decodes the position and checks the stored document.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

_enc = msgspec.json.encode

BASE_TIMESTAMP = 1_577_836_800  # 2020-01-01T00:00:00Z
STEP_SECONDS = 128  # generated createdAt grows by 1..255 s per viewable (strictly)
CHANNEL_ID_BASE = 2_000_000  # channels get digit-only ids, as the platform's live channels
_HEX48 = 0xFFFF_FFFF_FFFF

_ADJECTIVES = [
    "Silent",
    "Hidden",
    "Broken",
    "Golden",
    "Frozen",
    "Crimson",
    "Distant",
    "Electric",
    "Endless",
    "Fallen",
    "Forgotten",
    "Hollow",
    "Iron",
    "Last",
    "Lost",
    "Midnight",
    "Northern",
    "Open",
    "Quiet",
    "Restless",
    "Rising",
    "Scarlet",
    "Secret",
    "Shattered",
    "Silver",
    "Stolen",
    "Strange",
    "Sunken",
    "Twisted",
    "Wild",
    "Wandering",
    "Burning",
    "Bright",
    "Dark",
    "Velvet",
    "Paper",
    "Glass",
    "Savage",
    "Gentle",
    "Lonely",
    "Little",
    "Brave",
    "Final",
    "Eternal",
    "Hungry",
    "Sleeping",
]
_NOUNS = [
    "River",
    "Harbor",
    "Kingdom",
    "Forest",
    "Shadow",
    "Winter",
    "Summer",
    "Garden",
    "Island",
    "Mountain",
    "Ocean",
    "Station",
    "Empire",
    "Signal",
    "Frontier",
    "Voyage",
    "Letter",
    "Promise",
    "Horizon",
    "Lighthouse",
    "Circus",
    "Orchard",
    "Canyon",
    "Detective",
    "Heist",
    "Inheritance",
    "Tide",
    "Compass",
    "Mirror",
    "Crown",
    "Orbit",
    "Archive",
    "Carnival",
    "Border",
    "Engine",
    "Lantern",
    "Witness",
    "Covenant",
    "Meadow",
    "Glacier",
    "Quarry",
    "Valley",
    "Citadel",
    "Echo",
    "Storm",
    "Road",
]
_SENTENCES = (
    "A reluctant hero is pulled back into a world they swore to leave behind.",
    "Two estranged siblings must work together to save the family business.",
    "When a mysterious signal reaches a remote research station, nothing is what it seems.",
    "An unlikely friendship blossoms during one unforgettable summer by the sea.",
    "A detective with a troubled past races against time to solve a string of thefts.",
    "Set against the backdrop of a changing city, three strangers find their lives entwined.",
    "A small-town chef enters a national competition and risks everything.",
    "Ancient secrets surface when a storm uncovers ruins beneath the village church.",
    "A crew of misfits plans the most daring heist the continent has ever seen.",
    "Based on true events, the story follows a team that changed the sport forever.",
    "An exploration of love, loss and the quiet courage it takes to start again.",
    "Deep in the northern forests, a ranger discovers tracks that should not exist.",
    "A celebrated pianist loses her hearing and must reinvent her art.",
    "Rival families clash over an inheritance that neither truly understands.",
    "Season after season, a young athlete fights for a place on the national team.",
    "The last lighthouse keeper on the coast receives an unexpected visitor.",
)
_GENRES = [
    "Drama",
    "Comedy",
    "Action",
    "Thriller",
    "Romance",
    "Documentary",
    "Crime",
    "Family",
    "Sci-Fi",
    "Horror",
    "Adventure",
    "Animation",
    "Mystery",
    "Sport",
    "Music",
    "History",
]
_LABELS = ("hd", "4k", "new", "popular", "nordic", "award-winner", "kids", "exclusive", "classic")
_COUNTRY_SETS = (
    ("se", "dk", "no", "fi"),
    ("se",),
    ("se", "no"),
    ("dk", "fi", "is"),
    ("se", "dk", "no", "fi", "de", "nl"),
)
_RATINGS = (
    ("btl", ()),
    ("7", ("violence",)),
    ("11", ("violence", "language")),
    ("15", ("violence", "drugs")),
    ("18", ("violence", "sex", "language")),
)
_LANGUAGES = ("eng", "swe", "nor", "dan", "fin", "deu", "fra", "spa")
_SUBTITLE_TYPES = ("normal", "normal", "normal", "cc", "forced_narrative")
_RESOLUTIONS = ((1920, 1080), (1280, 720), (3840, 2160), (1024, 576))
_FIRST_NAMES = [
    "Alva",
    "Elsa",
    "Maja",
    "Noah",
    "William",
    "Liam",
    "Astrid",
    "Hugo",
    "Saga",
    "Oscar",
    "Freja",
    "Lucas",
    "Ella",
    "Nils",
    "Ebba",
    "Olivia",
    "Arvid",
    "Selma",
    "Leo",
    "Wilma",
]
_LAST_NAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Berg",
    "Lindqvist",
    "Holm",
    "Nyberg",
    "Dahl",
    "Ek",
]

# kind mix, in 256ths; the first viewables of a catalogue are a channel and a show
_KIND_SHARES = (
    ("movie", 100),
    ("episode", 82),
    ("show", 13),
    ("program", 38),
    ("trailer", 20),
    ("channel", 3),
)
_KIND_BY_BYTE = tuple(kind for kind, share in _KIND_SHARES for _ in range(share))
_VOD_KINDS = frozenset({"movie", "episode", "trailer"})
_BOOL = (b"false", b"true")
_MULTIPLIER = 0x9E3779B97F4B  # odd, so multiplying modulo 2**bits is a bijection

_VIEWABLE = (
    b'{"id":"%s","partnerId":"%s","metadata":{"kind":"%s","title":%s,"customId":"%s",'
    b'"synopsis":%s,"genres":%s,"labels":%s,"viewableWindowStart":%d,'
    b'"viewableWindowEnd":%d,"countryWhitelist":%s,"ratings":%s,"images":['
    b'{"type":"poster","filename":"%s/%s-poster.jpg"},'
    b'{"type":"sixteen-nine","filename":"%s/%s-16x9.jpg"}]%s},'
    b'"createdAt":%d,"modifiedAt":%d,"publish":%s%s}'
)
_VOD = (
    b'{"assetId":"%s","source":"%s","sourceId":"%s","status":"transcoded","createdAt":%d,'
    b'"modifiedAt":%d,"rights":{"sourceId":"%s","offlineAvailable":%s},"publish":true,'
    b'"vodPipeline":"%s","duration":%d,"viewableId":"%s","drmActivated":%s,'
    b'"drmType":"%s","subtitleLanguages":%s,"subtitleTracks":%s,"audioLanguages":%s,'
    b'"sourceResolution":{"width":%d,"height":%d},"audioChansPerLang":%s}'
)
_BROADCAST = (
    b'{"id":"%s","sourceId":"%s","startTimeUtc":%d,"stopTimeUtc":%d,"catchupFrom":%d,'
    b'"catchupTo":%d,"channelViewableId":"%s","duration":%d,'
    b'"extendedRights":{"pause":true,"rewind":%s,"fastForward":%s}}'
)
_PLAYABLE = (
    b'{"id":"%s","streamId":"%s","duration":%d,"verifyAge":%s,'
    b'"extendedRights":{"pause":true,"rewind":true,"fastForward":%s}}'
)


@dataclass(frozen=True)
class GeneratedUser:
    user_id: str
    email: str
    name: str
    country: str
    locale: str
    created: int


@dataclass(frozen=True)
class GeneratedOffer:
    offer_id: str
    offer_type: str
    title: str


class CatalogueGenerator:
    """Generates viewable ``i`` of the catalogue of ``seed``; maps ids back to ``i``."""

    def __init__(self, seed: int, partner_id: str) -> None:
        self.seed = seed
        self.partner_id = partner_id
        masks = random.Random(f"magine-sandbox-masks:{seed}")
        self._mask_id = masks.getrandbits(48)
        self._mask_asset = masks.getrandbits(48)
        self._mask_source = masks.getrandbits(40)
        self._mask_custom = masks.getrandbits(40)
        self._image_base = f"https://images.sandbox.maginepro.test/i/{partner_id}/v".encode()
        self._pools = _pools(seed)

    # -- identifiers ---------------------------------------------------------------------

    @staticmethod
    def _scramble(index: int, mask: int, bits: int) -> int:
        return ((index * _MULTIPLIER) & ((1 << bits) - 1)) ^ mask

    @staticmethod
    def _unscramble(value: int, mask: int, bits: int) -> int:
        full = (1 << bits) - 1
        return ((value ^ mask) * pow(_MULTIPLIER, -1, 1 << bits)) & full

    def _uuid(self, r: random.Random, tail: int) -> str:
        head = r.getrandbits(64)
        return "%08x-%04x-4%03x-%x%03x-%012x" % (  # noqa: UP031 - hot path
            head >> 32,
            (head >> 16) & 0xFFFF,
            head & 0xFFF,
            8 + ((head >> 12) & 3),
            (head >> 20) & 0xFFF,
            tail,
        )

    def viewable_id(self, r: random.Random, index: int, kind: str) -> str:
        if kind == "channel":
            return str(CHANNEL_ID_BASE + index)
        return self._uuid(r, self._scramble(index, self._mask_id, 48))

    def index_from_id(self, value: str) -> int | None:
        if value.isdigit():
            index = int(value) - CHANNEL_ID_BASE
            return index if index >= 0 else None
        tail = _uuid_tail(value)
        return None if tail is None else self._unscramble(tail, self._mask_id, 48)

    def index_from_asset_id(self, value: str) -> int | None:
        tail = _uuid_tail(value)
        return None if tail is None else self._unscramble(tail, self._mask_asset, 48)

    def source_id(self, index: int) -> str:
        return "mp_src_%010x" % self._scramble(index, self._mask_source, 40)  # noqa: UP031

    def index_from_source_id(self, value: str) -> int | None:
        number = _prefixed_hex(value, "mp_src_")
        return None if number is None else self._unscramble(number, self._mask_source, 40)

    def custom_id(self, index: int) -> str:
        return "ext-%010x" % self._scramble(index, self._mask_custom, 40)  # noqa: UP031

    def index_from_custom_id(self, value: str) -> int | None:
        number = _prefixed_hex(value, "ext-")
        return None if number is None else self._unscramble(number, self._mask_custom, 40)

    # -- viewables -----------------------------------------------------------------------

    def viewables(self, count: int) -> Iterator[tuple[bytes, str, int, int]]:
        """Yield ``(encoded_json, title, createdAt, modifiedAt)`` for positions 0..count-1."""
        r = random.Random(f"magine-sandbox-viewables:{self.seed}")
        bits = r.getrandbits
        p = self._pools
        synopses, genres, labels = p.synopses, p.genres, p.labels
        countries, ratings, titles = p.countries, p.ratings, p.titles
        n_syn, n_gen, n_lab = len(synopses), len(genres), len(labels)
        n_cty, n_rat, n_tit = len(countries), len(ratings), len(titles)
        kinds = _KIND_BY_BYTE
        partner = self.partner_id.encode()
        image_base = self._image_base
        template = _VIEWABLE
        last_show: tuple[bytes, str] = (b"", "")
        last_channel = str(CHANNEL_ID_BASE).encode()
        season = episode = 0
        for index in range(count):
            b = bits(64)
            kind = kinds[b & 0xFF] if index > 1 else ("channel", "show")[index]
            created = BASE_TIMESTAMP + index * STEP_SECONDS + ((b >> 8) & 0x7F)
            modified = created + ((b >> 15) & 0xFFFF) * ((b >> 31) & 0x7F)
            vid = self.viewable_id(r, index, kind)
            vid_b = vid.encode()
            extra = tail = b""
            if kind == "episode":
                episode += 1
                if episode > 10:
                    season, episode = season + 1, 1
                title = f"{last_show[1]} S{season}E{episode}"
                extra = b',"showId":"%s","season":%d,"episode":%d' % (last_show[0], season, episode)
            else:
                title = titles[(b >> 38) % n_tit]
                if kind == "show":
                    last_show, season, episode = (vid_b, title), 1, 0
            if kind in _VOD_KINDS:
                tail = b',"vods":[%s]' % self._vod(r, index, vid_b, created, modified, kind)
            elif kind == "program":
                tail = b',"broadcasts":[%s]' % b",".join(
                    self._broadcast(r, last_channel, created + n * 7200, 3600)
                    for n in range(1 + ((b >> 50) & 1))
                )
            elif kind == "channel":
                last_channel = vid_b
                playable = _PLAYABLE % (
                    vid_b,
                    vid_b,
                    86_400,
                    _BOOL[(b >> 51) & 1],
                    _BOOL[(b >> 52) & 1],
                )
                schedule = b",".join(
                    self._broadcast(r, vid_b, created + n * 3600, 3600) for n in range(3)
                )
                tail = b',"channelPlayable":%s,"broadcasts":[%s]' % (playable, schedule)
            c = bits(64)
            window = created - 86_400
            blob = template % (
                vid_b,
                partner,
                kind.encode(),
                _enc(title),
                self.custom_id(index).encode(),
                synopses[c % n_syn],
                genres[(c >> 10) % n_gen],
                labels[(c >> 20) % n_lab],
                window,
                window + 157_680_000,
                countries[(c >> 30) % n_cty],
                ratings[(c >> 36) % n_rat],
                image_base,
                vid_b,
                image_base,
                vid_b,
                extra,
                created,
                modified,
                b"false" if (c >> 42) & 15 == 0 else b"true",
                tail,
            )
            yield blob, title, created, modified

    def _vod(
        self, r: random.Random, index: int, vid: bytes, created: int, modified: int, kind: str
    ) -> bytes:
        p = self._pools
        b = r.getrandbits(64)
        source_id = self.source_id(index).encode()
        sub_langs, sub_tracks = p.subtitles[b % len(p.subtitles)]
        audio_langs, audio_chans = p.audio[(b >> 8) % len(p.audio)]
        width, height = _RESOLUTIONS[(b >> 16) & 3]
        span = (b >> 20) & 0x1FFF
        duration = 90 + span % 150 if kind == "trailer" else 1200 + span % 6000
        return _VOD % (
            self._uuid(r, self._scramble(index, self._mask_asset, 48)).encode(),
            self.partner_id.encode(),
            source_id,
            created,
            modified,
            source_id,
            _BOOL[(b >> 33) & 1],
            b"mediaconvert" if (b >> 34) & 3 else b"inhouse",
            duration,
            vid,
            _BOOL[1 if (b >> 36) & 7 else 0],
            b"enhanced" if (b >> 39) & 7 == 0 else b"normal",
            sub_langs,
            sub_tracks,
            audio_langs,
            width,
            height,
            audio_chans,
        )

    def _broadcast(self, r: random.Random, channel: bytes, start: int, length: int) -> bytes:
        b = r.getrandbits(64)
        bid = self._uuid(r, b & _HEX48).encode()
        return _BROADCAST % (
            bid,
            bid,
            start,
            start + length,
            start,
            start + 604_800,
            channel,
            length,
            _BOOL[(b >> 48) & 1],
            _BOOL[(b >> 49) & 1],
        )

    # -- users and offers ----------------------------------------------------------------

    def users(self, count: int) -> list[GeneratedUser]:
        r = random.Random(f"magine-sandbox-users:{self.seed}")
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        out: list[GeneratedUser] = []
        for i in range(count):
            first = r.choice(_FIRST_NAMES)
            last = r.choice(_LAST_NAMES)
            country = r.choice(("SE", "SE", "NO", "DK", "FI"))
            out.append(
                GeneratedUser(
                    user_id="".join(r.choice(alphabet) for _ in range(28)),
                    email=f"{first.lower()}.{last.lower()}.{i}@example.com",
                    name=f"{first} {last}",
                    country=country,
                    locale={"SE": "sv", "NO": "nb", "DK": "da", "FI": "fi"}[country],
                    created=BASE_TIMESTAMP + int(r.random() * 4 * 365 * 86_400),
                )
            )
        return out


def default_offers() -> list[GeneratedOffer]:
    return [
        GeneratedOffer("svod-monthly", "SubscribeType", "Monthly subscription"),
        GeneratedOffer("svod-yearly", "SubscribeType", "Yearly subscription"),
        GeneratedOffer("pass-7-days", "PassType", "7-day pass"),
        GeneratedOffer("rent-48h", "RentType", "48-hour rental"),
        GeneratedOffer("buy-to-own", "BuyType", "Buy to own"),
        GeneratedOffer("third-party-sports", "ThirdPartyType", "Sports via reseller"),
        GeneratedOffer("third-party-kids", "ThirdPartyType", "Kids via reseller"),
        GeneratedOffer("third-party-premium", "ThirdPartyType", "Premium via reseller"),
    ]


def default_reseller_offers() -> dict[str, str]:
    """Reseller offer id -> partner third-party offer id."""
    return {
        "reseller-sports": "third-party-sports",
        "reseller-kids": "third-party-kids",
        "reseller-premium": "third-party-premium",
    }


@functools.lru_cache(maxsize=8)
def _pools(seed: int) -> _Pools:
    return _Pools(random.Random(f"magine-sandbox-pools:{seed}"))


class _Pools:
    """Pre-encoded fragments drawn from by every generated viewable."""

    def __init__(self, r: random.Random) -> None:
        self.titles = [f"The {adj} {noun}" for adj in _ADJECTIVES for noun in _NOUNS]
        self.titles += [f"{title}: Part {n}" for title in self.titles[::7] for n in (2, 3)]
        r.shuffle(self.titles)
        self.synopses = [_enc(" ".join(r.sample(_SENTENCES, r.randint(1, 4)))) for _ in range(400)]
        self.genres = [_enc(r.sample(_GENRES, r.randint(1, 3))) for _ in range(200)]
        self.labels = [_enc(r.sample(_LABELS, r.randint(1, 3))) for _ in range(100)]
        self.countries = [_enc(list(c)) for c in _COUNTRY_SETS]
        self.ratings = [
            _enc([{"system": "sm-sa", "rating": rating, "reasons": list(reasons)}])
            for rating, reasons in _RATINGS
        ]
        self.subtitles: list[tuple[bytes, bytes]] = []
        for _ in range(64):
            langs = r.sample(_LANGUAGES, r.randint(1, 3))
            tracks = [
                {"language": lang, "subtitleType": r.choice(_SUBTITLE_TYPES)} for lang in langs
            ]
            self.subtitles.append((_enc(langs), _enc(tracks)))
        self.audio: list[tuple[bytes, bytes]] = []
        for _ in range(32):
            langs = r.sample(_LANGUAGES[:4], r.randint(1, 2))
            chans = [{"channels": r.choice((2, 6)), "language": lang} for lang in langs]
            self.audio.append((_enc(langs), _enc(chans)))


def _uuid_tail(value: str) -> int | None:
    if len(value) != 36 or value[23] != "-":
        return None
    try:
        return int(value[24:], 16)
    except ValueError:
        return None


def _prefixed_hex(value: str, prefix: str) -> int | None:
    if not value.startswith(prefix) or len(value) != len(prefix) + 10:
        return None
    try:
        return int(value[len(prefix) :], 16)
    except ValueError:
        return None
