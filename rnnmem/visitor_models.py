"""Models that visitors choose themselves (a Hub repository in a link or in the sidebar): loaded once, shared
by every visitor who names the same reference, and bounded.

A link costs its author nothing and the server a download and memory, so the app caps both:

- per visitor, at most ``per_visitor`` models of their own choosing newly loaded within ``window`` seconds
  (a model already held, or one this visitor loaded in the window, is free);
- overall, at most ``capacity`` such models held at once. A new one replaces the least recently used if
  that has been idle for ``min_idle`` seconds; when all are in use the load is refused. A model idle for
  ``window`` seconds is dropped.

A refusal is a ``ModelLimitError`` with a one-line message for the visitor. Pure Python (no Streamlit) and
thread-safe: visitors' script runs are threads of one process. Two visitors asking for the same model at
once share one load. The clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

from .errors import ModelLimitError

PER_VISITOR = 2  # new models of a visitor's choosing per window
CAPACITY = 4  # visitor-chosen models held at once (each at most rnnmem.hub.MAX_DOWNLOAD_BYTES)
WINDOW = 3600.0  # seconds
MIN_IDLE = 60.0  # seconds a held model must be unused before a new one may replace it


@dataclass
class _Held:
    result: object  # what the loader returned
    keys: set = field(default_factory=set)  # the keys it is held under (a reference and its aliases)
    last_used: float = 0.0


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


class VisitorModels:
    """``get(visitor, key)`` returns ``loader(*key)``, loaded at most once while held, within the limits.

    ``alias(key, result)`` may name another key the same result answers to (a Hub branch's pinned commit)."""

    def __init__(self, loader: Callable[..., object], *, alias: Callable[[tuple, object], Hashable | None] | None = None,
                 per_visitor: int = PER_VISITOR, capacity: int = CAPACITY, window: float = WINDOW,
                 min_idle: float = MIN_IDLE, clock: Callable[[], float] = time.monotonic):
        self._loader, self._alias, self._clock = loader, alias, clock
        self.per_visitor, self.capacity, self.window, self.min_idle = per_visitor, capacity, window, min_idle
        self._lock = threading.Lock()
        self._held: dict[Hashable, _Held] = {}  # key -> entry (one entry under several keys)
        self._loading: dict[Hashable, Future] = {}
        self._loads: dict[str, dict[Hashable, float]] = {}  # visitor -> key -> when they loaded it

    def get(self, visitor: str, key: tuple):
        with self._lock:
            now = self._clock()
            self._expire(now)
            held = self._held.get(key)
            if held is not None:
                held.last_used = now
                return held.result
            pending = self._loading.get(key)
            owner = pending is None
            if owner:
                self._admit(visitor, key, now)
                pending = self._loading[key] = Future()
        if not owner:
            return pending.result()  # another visitor is loading it: share that load
        try:
            result = self._loader(*key)
        except BaseException as error:
            with self._lock:
                del self._loading[key]
            pending.set_exception(error)
            raise
        with self._lock:
            entry = _Held(result, {key}, self._clock())
            alias = self._alias(key, result) if self._alias else None
            if alias is not None:
                entry.keys.add(alias)
            for name in entry.keys:
                self._held[name] = entry
            del self._loading[key]
        pending.set_result(result)
        return result

    def held(self) -> int:
        """Models held now."""
        with self._lock:
            return len(self._entries())

    def clear(self) -> None:
        with self._lock:
            self._held.clear()
            self._loads.clear()

    # ---- under the lock ---------------------------------------------------------------------------------

    def _entries(self) -> list[_Held]:
        unique = {id(entry): entry for entry in self._held.values()}
        return list(unique.values())

    def _drop(self, entry: _Held) -> None:
        for name in entry.keys:
            self._held.pop(name, None)

    def _expire(self, now: float) -> None:
        for entry in self._entries():
            if now - entry.last_used >= self.window:
                self._drop(entry)
        for visitor, loads in list(self._loads.items()):
            for name, when in list(loads.items()):
                if now - when >= self.window:
                    del loads[name]
            if not loads:
                del self._loads[visitor]

    def _admit(self, visitor: str, key: Hashable, now: float) -> None:
        """Raise ModelLimitError unless ``visitor`` may load ``key`` now; make room for it."""
        loads = self._loads.get(visitor, {})
        if key not in loads and len(loads) >= self.per_visitor:
            wait = min(loads.values()) + self.window - now
            raise ModelLimitError(
                f"you have loaded {len(loads)} models of your own choosing in the last {_minutes(self.window)}, "
                f"the most one visitor may; try again in {_minutes(wait)}")
        entries = self._entries()
        if len(entries) + len(self._loading) >= self.capacity:
            oldest = min(entries, key=lambda entry: entry.last_used, default=None)
            if oldest is None or now - oldest.last_used < self.min_idle:
                wait = self.min_idle - (now - oldest.last_used) if oldest is not None else self.min_idle
                raise ModelLimitError(
                    f"the server holds {self.capacity} models chosen by visitors, the most it keeps at once, "
                    f"and all are in use; try again in {_minutes(wait)}")
            self._drop(oldest)
        self._loads.setdefault(visitor, {})[key] = now


__all__ = ["VisitorModels", "ModelLimitError", "PER_VISITOR", "CAPACITY", "WINDOW", "MIN_IDLE"]
