"""Latency of the dashboard's interactive paths, against the issue's targets, on this machine.

    python -m benchmarks.app_latency [--chars 200] [--repeats 5] [--units rnn gru lstm nlstm] [--no-browser]

Prints four figures, each the median (and worst) over --repeats tries, all selected units at once, a
--chars-character text, and the models configured in models.toml (or $RNNMEM_MODELS):

1. suggestions after a keystroke (target 150 ms server time): the cached calls the Autocomplete page makes
   for a text it has not seen (the new character), and the whole page rerun as Streamlit runs it (AppTest);
2. the first connectivity view of a new text (target 2 s): the matrices and charts for every unit, and the
   whole page rerun;
3. switching the selected character (target 100 ms): cached matrix, new row, new charts, and the rerun;
4. app start to first rendered page (target 10 s): `streamlit run app.py` launched, then headless Chromium
   until the landing page's title shows; and a deep link's first complete Connectivity view.

Server figures call the same cached functions as the pages (rnnmem.app) with the same torch threading.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGETS = {"keystroke": 0.150, "connectivity": 2.0, "switch": 0.100, "start": 10.0}
CHROMIUM = os.environ.get("RNNMEM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def text_of(chars: int, seed_text: str) -> str:
    """A text of exactly ``chars`` normalised characters, from the article's paragraph, repeated."""
    from rnnmem.text import normalize

    text = normalize((seed_text + " ") * (chars // len(seed_text) + 2))
    return text[:chars]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary(name: str, seconds: list[float], target: float, note: str = "") -> str:
    median, worst = statistics.median(seconds), max(seconds)
    verdict = "meets" if median <= target else "MISSES"
    unit = "ms" if target < 1 else "s"
    scale, digits = (1000, 0) if unit == "ms" else (1, 2)
    return (f"{name:52s} median {median * scale:7.{digits}f} {unit}  worst {worst * scale:7.{digits}f} {unit}  "
            f"target {target * scale:.0f} {unit}: {verdict}{note}")


# ---- server time: the pages' cached calls --------------------------------------------------------------

def server_figures(args) -> list[str]:
    from rnnmem import app as ui
    from rnnmem import charts
    from rnnmem.app.models import _load_or_fallback
    from rnnmem.settings import load_settings

    ui.configure_runtime()
    settings = load_settings()
    models = []
    for unit in args.units:
        loaded = _load_or_fallback(settings.reference(unit), unit)
        models.append(ui.ShownModel(unit, loaded, loaded.notice))
    base = text_of(args.chars, ui.WALKTHROUGH_TEXT)
    lines = []

    # 1. A keystroke: every unit's suggestions for a text never seen before and the letter-by-letter table,
    # as the page asks for them (the text before it was typed at the keystroke before).
    def keystroke(text: str) -> None:
        end = len(text.rstrip(" "))
        first = max(text.rfind(" ", 0, end), len(text) - 25)
        for item in models:
            ui.suggestions_by_prefix(item.key, item.model, text, first)

    start_at = len(base) - args.repeats
    keystroke(base[:start_at])  # warm: the text typed so far
    times = []
    for i in range(1, args.repeats + 1):
        text = base[:start_at + i]  # each try types one more character
        times.append(timed(lambda: keystroke(text)))
    lines.append(summary("1. suggestions after a keystroke (cached calls)", times, TARGETS["keystroke"]))

    # 2 and 3. Connectivity: a new text for every unit, then moving the selected character.
    first_unit: list[float] = []

    def view(text: str, position: int) -> None:
        start = time.perf_counter()
        for n, item in enumerate(models):
            result = ui.connectivity(item.key, item.model, text)
            frame = charts.connectivity_text_frame(result.text, result.scaled_row(position), position,
                                                  raw=result.row(position))
            charts.connectivity_text_spec(frame)
            if n == 0:
                first_unit.append(time.perf_counter() - start)

    first = []
    for i in range(args.repeats):
        fresh = text_of(args.chars, f"variant {i} " + ui.WALKTHROUGH_TEXT)
        first.append(timed(lambda: view(fresh, len(fresh) - 1)))
    lines.append(summary("2. first connectivity view of a new text", first, TARGETS["connectivity"],
                         f" (first unit drawn after {statistics.median(first_unit):.1f} s: the page draws "
                         "each unit as it is ready)"))
    switches = [timed(lambda p=p: view(fresh, p)) for p in range(10, 10 + 7 * args.repeats, 7)]
    lines.append(summary("3. switching the selected character", switches, TARGETS["switch"]))
    return lines


# ---- server time: whole page reruns (AppTest runs the scripts exactly as the server does) ---------------

def rerun_figures(args) -> list[str]:
    from streamlit.testing.v1 import AppTest

    from rnnmem import app as ui
    from rnnmem.app import UNIT_LABELS

    units = [UNIT_LABELS[u] for u in args.units]
    lines = []
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.query_params["units"] = units
    at.switch_page("pages/autocomplete.py").run()
    base = text_of(args.chars, "the cat sat on the mat and " + ui.WALKTHROUGH_TEXT)
    start_at = len(base) - args.repeats
    at.text_input(key="text").input(base[:start_at]).run()
    times = []
    for i in range(1, args.repeats + 1):
        box = at.text_input(key="text").input(base[:start_at + i])
        times.append(timed(box.run))
        assert not at.exception, at.exception
    lines.append(summary("1. suggestions after a keystroke (whole page rerun)", times, TARGETS["keystroke"]))

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.query_params["units"] = units
    at.switch_page("pages/connectivity.py").run()
    first = []
    for i in range(args.repeats):
        area = at.text_area(key="text").input(text_of(args.chars, f"rerun {i} " + ui.WALKTHROUGH_TEXT))
        first.append(timed(area.run))
        assert not at.exception, at.exception
    lines.append(summary("2. first connectivity view (whole page rerun)", first, TARGETS["connectivity"]))
    switches = []
    for position in range(20, 20 + 9 * args.repeats, 9):
        slider = at.slider(key="pos").set_value(position)
        switches.append(timed(slider.run))
    lines.append(summary("3. switching the selected character (whole rerun)", switches, TARGETS["switch"]))
    return lines


# ---- app start, in a browser -----------------------------------------------------------------------------

def browser_figures(args) -> list[str]:
    from playwright.sync_api import sync_playwright

    from rnnmem.app import UNIT_LABELS

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    lines = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                        break
                except OSError:
                    if time.perf_counter() - start > 120:
                        raise RuntimeError("streamlit did not start within 120 s") from None
                    time.sleep(0.1)
            healthy = time.perf_counter() - start
            page.goto(url)
            page.get_by_role("heading", name="Visualizing memorization in RNNs").wait_for()
            shown = time.perf_counter() - start
            lines.append(summary("4. app start to first rendered page", [shown], TARGETS["start"],
                                 f" (server healthy after {healthy:.1f} s)"))
            query = "&".join(f"units={UNIT_LABELS[u]}" for u in args.units)
            other = browser.new_page(viewport={"width": 1400, "height": 1000})
            other.set_default_timeout(120_000)
            t = time.perf_counter()
            other.goto(f"{url}/connectivity?{query}")
            other.locator('[data-testid="stVegaLiteChart"]').nth(len(args.units) - 1).wait_for()
            other.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(state="attached")
            lines.append(f"{'   deep link to Connectivity, every unit drawn':52s} {time.perf_counter() - t:7.1f} s "
                         "(browser, first visit: models load, four matrices)")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
            browser.close()
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chars", type=int, default=200, help="normalised characters of text")
    p.add_argument("--repeats", type=int, default=5, help="tries per figure (median and worst reported)")
    p.add_argument("--units", nargs="+", default=["rnn", "gru", "lstm", "nlstm"], help="units selected")
    p.add_argument("--no-browser", action="store_true", help="skip the app start figure (needs Chromium)")
    args = p.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime" notes outside `streamlit run`
    for name in ("streamlit.runtime.caching.cache_data_api", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)

    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f}, torch {torch.__version__}, "
          f"{os.environ.get('RNNMEM_TORCH_THREADS', '1')} torch thread(s) per request; units {' '.join(args.units)}, "
          f"{args.chars}-character text, {args.repeats} tries")
    for line in server_figures(args) + rerun_figures(args):
        print(line, flush=True)
    if not args.no_browser:
        for line in browser_figures(args):
            print(line, flush=True)


if __name__ == "__main__":
    main()
