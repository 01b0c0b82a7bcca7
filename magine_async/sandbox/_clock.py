"""An injectable clock: real time by default, shiftable and freezable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable


class SandboxClock:
    """Seconds since the epoch, as the sandbox sees them.

    ``advance()`` moves time forward (subtitle requests and transcode jobs complete when
    their delay has passed); ``freeze()`` stops it so timestamps are predictable.
    """

    def __init__(self, source: Callable[[], float] | None = None, *, start: float | None = None):
        self._source = source or time.time
        self._offset = 0.0
        self._frozen: float | None = start

    def __call__(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return self._source() + self._offset

    def now(self) -> float:
        return self()

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        if self._frozen is not None:
            self._frozen += seconds
        else:
            self._offset += seconds
        return self()

    def freeze(self, at: float | None = None) -> None:
        self._frozen = self() if at is None else float(at)

    def unfreeze(self) -> None:
        if self._frozen is not None:
            self._offset = self._frozen - self._source()
            self._frozen = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None
