"""What the Connectivity page shows for a (model, text, selected character), with the cost of a new text off
the page's path: the whole matrix once a worker process (rnnmem.workers) has computed it, the selected row
alone meanwhile."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .attribution import ConnectivityResult, connectivity_partial
from .workers import AnalysisWorkers, ModelLike, model_of


class ConnectivityViews:
    """What the Connectivity page shows for (model, text, selected character), with the cost of a new text
    off the page's path: the whole matrix when it is ready (kept, the ``capacity`` most recent); else, while
    a worker computes it, the selected row alone, computed at once (``connectivity_partial``). Without a
    worker for the model, the matrix is computed at once, as before. ``key`` names the model's weights
    (unit, reference, revision): results never cross between models, and texts are compared whole."""

    def __init__(self, workers: AnalysisWorkers, *, capacity: int = 32, max_pending: int = 8):
        self.workers, self.capacity, self.max_pending = workers, capacity, max_pending
        self._lock = threading.Lock()
        self._ready: OrderedDict = OrderedDict()  # (key, text) -> ConnectivityResult
        self._pending: dict = {}  # (key, text) -> Future

    def get(self, key: tuple, item: ModelLike, text: str, position: int) -> ConnectivityResult:
        name = (key, text)
        with self._lock:
            self._sweep()
            if name in self._ready:
                self._ready.move_to_end(name)
                return self._ready[name]
            future = self._pending.get(name)
            queue_full = len(self._pending) >= self.max_pending
            if future is None and not queue_full:
                future = self.workers.submit(item, text)
                if future is not None:
                    self._pending[name] = future
        if (future is not None and not future.done()) or (future is None and queue_full
                                                          and self.workers.available(item)):
            return connectivity_partial(model_of(item), text, position)  # the matrix follows when a worker is free
        with self._lock:
            self._pending.pop(name, None)
        result = self.workers.collect(future, item, text)
        with self._lock:
            self._keep(name, result)
        return result

    def _keep(self, name: tuple, result: ConnectivityResult) -> None:
        self._ready[name] = result
        self._ready.move_to_end(name)
        while len(self._ready) > self.capacity:
            self._ready.popitem(last=False)

    def _sweep(self) -> None:
        """Keep the matrices workers finished for visitors who have not come back for them yet; forget
        failed ones (the next request computes them here)."""
        for name, future in list(self._pending.items()):
            if future.done():
                del self._pending[name]
                if future.exception() is None and future.result() is not None:
                    self.workers.computed_in_workers += 1
                    self._keep(name, future.result())

    def ready(self, key: tuple, text: str) -> bool:
        with self._lock:
            return (key, text) in self._ready


__all__ = ["ConnectivityViews"]
