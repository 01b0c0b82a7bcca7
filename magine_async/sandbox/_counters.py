"""Counters of requests, side effects and injected faults, per operation."""

from __future__ import annotations

from collections import Counter


class Counters:
    """``requests[operation]``: requests that reached the sandbox (faulted ones included);
    ``effects[name]``: state changes (``users.created``, ``entitlements.created``, ...);
    ``faults[kind]`` and ``faults[f"{operation}:{kind}"]``: faults injected;
    ``responses[f"{operation} {status}"]``: answers sent by the handlers.

    ``counters["users.created"]`` reads an effect counter.
    """

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.responses: Counter[str] = Counter()

    def __getitem__(self, name: str) -> int:
        return self.effects[name]

    def effect(self, name: str, count: int = 1) -> None:
        self.effects[name] += count

    def reset(self) -> None:
        for counter in (self.requests, self.effects, self.faults, self.responses):
            counter.clear()

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "effects": dict(sorted(self.effects.items())),
            "faults": dict(sorted(self.faults.items())),
            "responses": dict(sorted(self.responses.items())),
        }
