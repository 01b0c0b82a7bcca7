"""Counters of requests, side effects and injected faults, per operation."""

from __future__ import annotations

from collections import Counter

_RATE_LIMIT = "rate_limit."


class Counters:
    """``requests[operation]``: requests that reached the sandbox (faulted ones included);
    ``effects[name]``: state changes (``users.created``, ``entitlements.created``, ...);
    ``faults[kind]`` and ``faults[f"{operation}:{kind}"]``: faults injected;
    ``responses[f"{operation} {status}"]``: answers sent by the handlers;
    ``rate_limit[outcome]`` and ``rate_limit[f"{operation}:{outcome}"]``: requests the rate
    limit admitted, throttled (429), queued or refused as overloaded (503).

    ``counters["users.created"]`` reads an effect counter, ``counters["rate_limit.throttled"]``
    a rate limit counter. :meth:`snapshot` lists ``rate_limit`` once it has counted anything.
    """

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.responses: Counter[str] = Counter()
        self.rate_limit: Counter[str] = Counter()

    def __getitem__(self, name: str) -> int:
        if name.startswith(_RATE_LIMIT):
            return self.rate_limit[name[len(_RATE_LIMIT) :]]
        return self.effects[name]

    def effect(self, name: str, count: int = 1) -> None:
        self.effects[name] += count

    def reset(self) -> None:
        for counter in (
            self.requests,
            self.effects,
            self.faults,
            self.responses,
            self.rate_limit,
        ):
            counter.clear()

    def snapshot(self) -> dict[str, dict[str, int]]:
        snapshot = {
            "requests": dict(sorted(self.requests.items())),
            "effects": dict(sorted(self.effects.items())),
            "faults": dict(sorted(self.faults.items())),
            "responses": dict(sorted(self.responses.items())),
        }
        if self.rate_limit:
            snapshot["rate_limit"] = dict(sorted(self.rate_limit.items()))
        return snapshot
