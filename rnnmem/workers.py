"""Connectivity matrices and integrated gradients computed in worker processes, so that a second core
serves the app.

The app's server is one Python process: every visitor's script run is a thread of it, and Python runs one
thread at a time, so whatever the number of visitors it uses one core (measured: 0.99 cores busy with 10
visitors on 2 cores, throughput flat). The connectivity matrix is most of a new Connectivity view's work
(T(T+1)/2 small vector-Jacobian steps, each a Python call), so it runs in a pool of worker processes while
the server process keeps answering keystrokes and clicks. So does a row by integrated gradients
(rnnmem.attribution_methods): 64 to 512 forward and backward passes, seconds on a long text, which in the
server process would slow every other visitor's page meanwhile; and the batched rows that recall against its
control reads (rnnmem.recall), a sequence at a time.

A worker loads a model from a reference that names exactly the weights the server uses: a shipped name, a
model directory, or a Hub commit (``hf://OWNER/NAME@COMMIT``, already in the local Hugging Face cache, so no
download). It checks a fingerprint of the weights against the server's copy before computing. A model no
reference reproduces (built in memory), a mismatch, or a pool that failed, is computed in the server
process as before: the pool only ever moves work, never changes a result.

``RNNMEM_WORKERS`` sets the number of worker processes; by default one when the machine has two or more
cores, none on a single core (there the pool would only add copying).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .attribution import ConnectivityResult, connectivity_matrix, connectivity_of_ids
from .attribution_methods import Attribution, attribution
from .errors import InputError
from .model import AutocompleteRNN
from .modelref import LoadedModel
from .refs import load_model
from .settings import torch_threads

logger = logging.getLogger(__name__)

WORKERS_ENV = "RNNMEM_WORKERS"
MODELS_PER_WORKER = 8  # models a worker keeps loaded (least recently used dropped)


def usable_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """Cores this process may use: the CPUs it may run on, within its container's CPU quota (cgroup v2
    cpu.max, "QUOTA PERIOD" or "max PERIOD"), which is what a hosted instance gives it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(float(quota) / float(period))))
    except (OSError, ValueError):
        pass
    return cores


def default_workers(environ=None, cores: int | None = None) -> int:
    """``RNNMEM_WORKERS`` when set, else one worker when there are two usable cores or more."""
    environ = os.environ if environ is None else environ
    try:
        return max(0, int(environ[WORKERS_ENV]))
    except (KeyError, ValueError):
        return 1 if (usable_cores() if cores is None else cores) >= 2 else 0


def weights_fingerprint(model: AutocompleteRNN) -> str:
    """A short hash of every parameter's bytes: the same reference must give the same weights in a worker."""
    digest = hashlib.sha1()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# What the pool computes for: a loaded model (its reference tells a worker where the weights are), or a
# model built in memory, which only this process has (computed here).
ModelLike = LoadedModel | AutocompleteRNN


def model_of(item: ModelLike) -> AutocompleteRNN:
    return item.model if isinstance(item, LoadedModel) else item


def worker_reference(item: ModelLike) -> str | None:
    """A reference from which a worker loads exactly this model's weights (a Hub model at its commit), or
    None for a model built in memory."""
    return str(item.pinned) if isinstance(item, LoadedModel) else None


# ---- in the worker process -------------------------------------------------------------------------------

_models: OrderedDict = OrderedDict()  # reference -> (model, fingerprint)


def _matrix(model: AutocompleteRNN, text: str, k: int) -> ConnectivityResult:
    return connectivity_matrix(model, text, k=k)


# What a worker computes, by name: each takes the model, then the request's arguments. Results are the same
# objects the server process computes (pickled back).
TASKS = {"matrix": _matrix, "attribution": attribution, "rows": connectivity_of_ids}
# Attribution methods worth a worker: integrated gradients is 64 to 512 forward and backward passes (seconds
# on a long text); the others are one backward pass, cheaper here than the pickling and the wait.
WORKER_METHODS = frozenset({"integrated_gradients"})


def _compute_in_worker(task: str, reference: str, fingerprint: str, args: tuple):
    """``TASKS[task]`` for ``reference``'s model, or None when the weights found are not the server's."""
    if reference in _models:
        _models.move_to_end(reference)
    else:
        model = load_model(reference)
        _models[reference] = (model, weights_fingerprint(model))
        while len(_models) > MODELS_PER_WORKER:
            _models.popitem(last=False)
    model, found = _models[reference]
    if found != fingerprint:
        return None
    return TASKS[task](model, *args)


def _send(stream, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other side closed the pipe")
    (size,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(size))


def serve() -> None:
    """A worker: ``python -m rnnmem.workers``. Reads (task, reference, fingerprint, args) requests on stdin and
    answers ("ok", result) or ("error", exception) on the original stdout; anything a library prints goes
    to stderr instead, so it cannot corrupt the answers. Ends when the server closes the pipe."""
    torch.set_num_threads(torch_threads())
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        try:
            answer = ("ok", _compute_in_worker(*request))
        except Exception as error:  # noqa: BLE001 - every failure goes back to the server, which decides
            answer = ("error", error)
        _send(answers, answer)


# ---- in the server process --------------------------------------------------------------------------------

class WorkerFailed(RuntimeError):
    """A worker process stopped or answered nonsense."""


class _Worker:
    """One ``python -m rnnmem.workers`` child process and its pipes; one request at a time."""

    def __init__(self):
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_parent,
                                                                          os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-m", "rnnmem.workers"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env)

    def call(self, *request):
        try:
            _send(self.process.stdin, request)
            status, value = _receive(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as error:
            raise WorkerFailed(f"the worker process stopped ({type(error).__name__})") from error
        if status == "error":
            raise value
        return value

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # the worker ends at the end of its input
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # still starting (importing torch) on a busy machine
                self.process.kill()
                self.process.wait()  # reaped: no zombie, and poll() says it ended


class AnalysisWorkers:
    """``connectivity_matrix(model, text, k)`` as rnnmem.analysis computes it, and ``attribution(model, text,
    position, method, target)`` as rnnmem.attribution_methods does, in worker processes when there are any
    and the model can be reproduced there, else here.

    The workers are child processes running ``python -m rnnmem.workers`` (not multiprocessing: Streamlit
    makes the app script the ``__main__`` module, which a spawned multiprocessing child would run again).
    A thread per worker waits on its pipe, without the GIL, so ``submit`` gives ordinary futures.

    Two queues share the workers: a matrix asked for ahead of need (``submit``, a new text's matrix while
    its row is shown) waits in the first; what a visitor's page is waiting for (``connectivity_matrix``,
    ``attribution``) in the second, which takes the next free worker first: it waits for the job under way,
    never behind the first queue's backlog."""

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else workers
        self.computed_in_workers = 0  # results a worker computed (the rest were computed here)
        self._lock = threading.Lock()
        self._fingerprints: dict[int, tuple[object, str]] = {}  # id(model) -> (model, fingerprint)
        self._pool = self._waited_pool = None
        self._free = threading.Condition()  # guards the two below
        self._idle: list[_Worker] = []
        self._waited_for = 0  # requests of the second queue waiting for a worker
        self._started: list[_Worker] = []
        if self.workers:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="rnnmem-worker")
            self._waited_pool = ThreadPoolExecutor(self.workers, thread_name_prefix="rnnmem-worker-waited")
            for _ in range(self.workers):  # started now, not at the first visitor's view
                worker = _Worker()
                self._started.append(worker)
                self._idle.append(worker)

    def _take_worker(self, waited: bool) -> _Worker:
        """The next free worker; a request of the first queue waits while one of the second does."""
        with self._free:
            self._waited_for += waited
            try:
                while not self._idle or (not waited and self._waited_for):
                    self._free.wait()
                return self._idle.pop()
            finally:
                self._waited_for -= waited
                self._free.notify_all()

    def _give_back(self, worker: _Worker) -> None:
        with self._free:
            self._idle.append(worker)
            self._free.notify_all()

    def _run(self, waited: bool, *request):
        worker = self._take_worker(waited)
        try:
            return worker.call(*request)
        except WorkerFailed:
            worker.stop()
            worker = _Worker()  # one fresh start; a second failure reaches the caller the same way
            self._started.append(worker)
            raise
        finally:
            self._give_back(worker)

    def _fingerprint(self, model) -> str:
        with self._lock:
            known = self._fingerprints.get(id(model))
            if known is not None and known[0] is model:
                return known[1]
        fingerprint = weights_fingerprint(model)  # models are never changed in place (analysis is read-only)
        with self._lock:
            if len(self._fingerprints) >= 64:  # the models are kept alive here, so that an id is never reused
                self._fingerprints.clear()
            self._fingerprints[id(model)] = (model, fingerprint)
        return fingerprint

    def available(self, item: ModelLike) -> bool:
        """Whether a worker can compute for this model."""
        return self._pool is not None and worker_reference(item) is not None

    def _submit(self, task: str, item: ModelLike, args: tuple, *, waited: bool = False) -> Future | None:
        """``TASKS[task](model, *args)`` in a worker: a future of the result (None when the worker found
        other weights), or None at once when no worker can compute it. ``waited``: a page is waiting for
        it (the second queue, see the class)."""
        pool = self._waited_pool if waited else self._pool
        reference = worker_reference(item) if pool is not None else None
        if reference is None:
            return None
        try:
            return pool.submit(self._run, waited, task, reference, self._fingerprint(model_of(item)), args)
        except RuntimeError:  # a stopped pool
            self.shutdown()
            return None

    def _collect(self, future: Future | None, task: str, item: ModelLike, args: tuple):
        """The result of ``_submit`` (waiting for it), or computed here when there was no worker for it,
        the worker found other weights, or it failed."""
        result = None
        if future is not None:
            try:
                result = future.result()
            except InputError:
                raise  # the request, not the worker: the same error here
            except Exception as error:  # noqa: BLE001 - the worker's own failure: compute here, as before
                logger.warning("analysis worker failed on %s (%s); computing here", task, type(error).__name__)
        if result is None:
            return TASKS[task](model_of(item), *args)
        self.computed_in_workers += 1
        return result

    def submit(self, item: ModelLike, text: str, k: int = 3) -> Future | None:
        """The connectivity matrix computed in a worker, ahead of need (see ``_submit``)."""
        return self._submit("matrix", item, (text, k))

    def collect(self, future: Future | None, item: ModelLike, text: str, k: int = 3) -> ConnectivityResult:
        """The matrix ``submit`` asked for, or computed here (see ``_collect``)."""
        return self._collect(future, "matrix", item, (text, k))

    def connectivity_matrix(self, item: ModelLike, text: str, k: int = 3) -> ConnectivityResult:
        return self.collect(self._submit("matrix", item, (text, k), waited=True), item, text, k)

    def attribution(self, item: ModelLike, text: str, position: int, method: str = "grad_sq",
                    target: str | None = None) -> Attribution:
        """One position's attribution (rnnmem.attribution_methods.attribution): integrated gradients in a
        worker when one can compute it (the calling thread waits without holding the GIL); the other
        methods, one backward pass each, here, where they cost less than the trip to a worker."""
        args = (text, position, method, target)
        future = self._submit("attribution", item, args, waited=True) if method in WORKER_METHODS else None
        return self._collect(future, "attribution", item, args)

    def connectivity_rows(self, item: ModelLike, chars: np.ndarray, positions: np.ndarray,
                          ys: np.ndarray) -> np.ndarray:
        """Rows of one sequence (rnnmem.attribution.connectivity_of_ids), in a worker when one can compute
        them: what recall reads, a minute of gradients for a corpus sample, off the server process."""
        args = (chars, positions, ys)
        return self._collect(self._submit("rows", item, args, waited=True), "rows", item, args)

    def shutdown(self) -> None:
        pools, self._pool, self._waited_pool = (self._pool, self._waited_pool), None, None
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        for worker in self._started:
            worker.stop()


__all__ = ["AnalysisWorkers", "ModelLike", "TASKS", "default_workers", "model_of", "weights_fingerprint", "worker_reference", "WORKERS_ENV"]


if __name__ == "__main__":
    serve()
