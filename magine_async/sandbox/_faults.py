"""Fault injection: deterministic (by seed) 5xx, 429, latency, resets, truncation, 502s.

Faults are configured globally (``FaultConfig.default``) or per route
(``FaultConfig.routes[key]``, where ``key`` is an operation name such as
``"viewables.list"`` or a method and path template such as
``"GET /partner/viewables/{viewableId}"``). A route's own spec replaces the global one.

Kinds, in the order a random draw is matched against the rates:

``error``         503 JSON error with a Trace ID; the handler does not run.
``throttle``      429 JSON error with ``Retry-After``; the handler does not run.
``html502``       502 HTML page as a reverse proxy sends it; the handler does not run.
``reset_before``  the connection is closed before the handler runs (no side effect).
``reset``         the handler runs (its side effects happen), then the connection is
                  closed before the response is sent.
``truncate``      the handler runs; the full Content-Length is declared but only half
                  the body is sent before the connection is closed.

``script`` lists kinds (or ``"none"``) to apply to the next requests of that route, in
order, before any rate is consulted: deterministic "fail twice, then succeed" tests.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULT_KINDS = ("error", "throttle", "html502", "reset_before", "reset", "truncate")
_RATE_FIELDS = tuple(f"{kind}_rate" for kind in FAULT_KINDS)


@dataclass
class FaultSpec:
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    html502_rate: float = 0.0
    reset_before_rate: float = 0.0
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    latency: float = 0.0  # seconds added to every request
    jitter: float = 0.0  # plus uniform(0, jitter) seconds
    retry_after: float = 1.0  # Retry-After of a 429, in seconds (rounded up)
    script: list[str] = field(default_factory=list)

    def validate(self) -> None:
        for name in (*_RATE_FIELDS, "latency", "jitter", "retry_after"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        total = sum(getattr(self, name) for name in _RATE_FIELDS)
        if total > 1.0 + 1e-9:
            raise ValueError("the fault rates add up to more than 1")
        for kind in self.script:
            if kind not in FAULT_KINDS and kind != "none":
                raise ValueError(f"unknown fault kind {kind!r} in script")

    @property
    def quiet(self) -> bool:
        return (
            not self.script
            and self.latency == 0
            and self.jitter == 0
            and not any(getattr(self, name) for name in _RATE_FIELDS)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        if not isinstance(data.get("script", []), list):
            raise ValueError("script must be a list of fault kinds")
        values: dict[str, Any] = {k: (list(v) if k == "script" else v) for k, v in data.items()}
        spec = cls(**values)
        spec.validate()
        return spec


def route_key(key: str) -> str:
    """Normalise ``"get /api/v1/partner/x"`` to ``"GET /partner/x"``; op names unchanged."""
    method, sep, path = key.strip().partition(" ")
    if not sep:
        return key.strip()
    path = path.strip()
    if path.startswith("/api/v1/"):
        path = path[len("/api/v1") :]
    return f"{method.upper()} {path}"


@dataclass
class FaultConfig:
    """Mutable at runtime: the sandbox reads it on every request."""

    seed: int = 0
    default: FaultSpec = field(default_factory=FaultSpec)
    routes: dict[str, FaultSpec] = field(default_factory=dict)
    _rngs: dict[str, random.Random] = field(default_factory=dict, repr=False, compare=False)

    def route(self, key: str) -> FaultSpec:
        """The spec for one route (created empty on first use)."""
        return self.routes.setdefault(route_key(key), FaultSpec())

    def clear(self) -> None:
        self.default = FaultSpec()
        self.routes.clear()
        self._rngs.clear()

    def reseed(self, seed: int | None = None) -> None:
        if seed is not None:
            self.seed = seed
        self._rngs.clear()

    def spec_for(self, operation: str, method: str, template: str) -> tuple[str, FaultSpec]:
        routes = self.routes
        if routes:
            spec = routes.get(operation)
            if spec is not None:
                return operation, spec
            key = f"{method} {template}"
            spec = routes.get(key)
            if spec is not None:
                return key, spec
        return "*", self.default

    def rng(self, key: str) -> random.Random:
        rng = self._rngs.get(key)
        if rng is None:
            rng = self._rngs[key] = random.Random(f"magine-sandbox-faults:{self.seed}:{key}")
        return rng

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "default": self.default.to_dict(),
            "routes": {key: spec.to_dict() for key, spec in sorted(self.routes.items())},
        }

    def load(self, data: dict[str, Any]) -> None:
        """Replace the whole configuration from its JSON form (missing parts: defaults)."""
        unknown = set(data) - {"seed", "default", "routes"}
        if unknown:
            raise ValueError(f"unknown fault configuration keys: {', '.join(sorted(unknown))}")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError("seed must be an integer")
        default = FaultSpec.from_dict(_mapping(data.get("default", {}), "default"))
        routes = {
            route_key(key): FaultSpec.from_dict(_mapping(value, key))
            for key, value in _mapping(data.get("routes", {}), "routes").items()
        }
        self.seed, self.default, self.routes = seed, default, routes
        self._rngs.clear()

    def decide(self, key: str, spec: FaultSpec) -> tuple[str | None, float]:
        """The fault kind for the next request on ``key`` (or None) and its added delay."""
        rng = self.rng(key)
        delay = spec.latency + (rng.random() * spec.jitter if spec.jitter else 0.0)
        if spec.script:
            kind = spec.script.pop(0)
            return (None if kind == "none" else kind), delay
        draw = rng.random()
        threshold = 0.0
        for kind, name in zip(FAULT_KINDS, _RATE_FIELDS, strict=True):
            threshold += getattr(spec, name)
            if draw < threshold:
                return kind, delay
        return None, delay


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    return value
