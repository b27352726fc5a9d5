"""Once per process and once per run: torch threads, Streamlit's deep-link mode, the start of every run."""

from __future__ import annotations

import gc
import threading

import streamlit as st
import torch

from ..settings import torch_threads

_freeze_lock = threading.Lock()
_frozen = False


def configure_runtime() -> None:
    """Every script run: one torch thread per request by default (``RNNMEM_TORCH_THREADS``). Small
    recurrent steps gain little from intra-op threads, and on a shared or busy CPU several threads per
    request make every visitor slower (measured: 10x slower connectivity with 2 threads on 2 busy cores).
    Set in every run, not once: OpenMP keeps its thread count per thread, and Streamlit runs each script
    run in a fresh thread, which starts at one thread per core until torch's first parallel loop there
    catches up (its first matrix products ran on every core, and gave other float sums than a run's later
    ones).

    Once per process, the objects alive now (the imported modules: Streamlit, torch, pandas, Altair) are
    moved out of the garbage collector's sight (``gc.freeze``). Streamlit runs a full collection after
    every script run (``runner.postScriptGC``) to keep memory flat; over all of them it cost ~190 ms of CPU
    per keystroke, four times the page's own work. What later runs leave behind is still collected."""
    global _frozen
    torch.set_num_threads(torch_threads())
    with _freeze_lock:
        if _frozen:
            return
        gc.collect()  # garbage of the imports first: what freeze() keeps is never collected
        gc.freeze()  # modules live as long as the process
        _frozen = True


def ensure_entrypoint() -> None:
    """Make a deep link work on a freshly started server.

    Streamlit treats an app with a ``pages/`` folder as an old-style multipage app until the entry point
    has called ``st.navigation`` once in this process; until then a link to ``/connectivity`` runs
    pages/connectivity.py alone, without app.py (no sidebar, no settings, no page layout). A page that
    finds itself in that state switches the process to ``st.navigation`` mode and reruns, so app.py
    routes the same URL (query parameters included)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this flag has no such mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
