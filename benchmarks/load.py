"""Load test: many visitors at once against `streamlit run app.py` on 127.0.0.1.

    python -m benchmarks.load [--visitors 1 5 10] [--seconds 60] [--browsers 0] [--cpu-actions 20] [--texts 300]
                              [--units rnn gru lstm nlstm] [--url http://127.0.0.1:8501]

Most visitors talk to the server the way Streamlit's browser client does, over its websocket
(/_stcore/stream, protobuf BackMsg/ForwardMsg from streamlit.proto), without a browser: a browser per
visitor would starve the server it measures. ``--browsers M`` adds M visitors in Debian's Chromium
(Playwright), typing into the real page.

Every visitor repeats, until --seconds have passed: open a share link (Autocomplete or Connectivity with a
text of the article's kind), type a sentence from an empty box letter by letter, open a new text on the
Connectivity page and select a few characters, switch pages. Each action is timed from the message that
starts a rerun to the end of that rerun (on 127.0.0.1 this is the server's time), and counted as an error
when the page shows an application error, the run fails, the connection drops or nothing answers for 120 s.

Reported per number of visitors: actions, errors, p50/p95/max seconds per kind of action, throughput,
server CPU (cores used: CPU seconds of the server process and its analysis workers over wall seconds)
and peak memory (their RSS together, sampled every 0.2 s), CPU seconds per action. Then
``--cpu-actions N`` keystrokes and N new connectivity views by one visitor give the CPU seconds of each kind of
action (server and workers, the work it left queued included): unlike latencies, little changed by other
work on the same cores. ``--texts N`` then opens N distinct texts on the Connectivity page and Autocomplete, one
visitor, and prints the server's memory every 50 texts (it should stay flat: every cache is bounded).
The machine's load average is printed first: other work on the same cores distorts every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHROMIUM = os.environ.get("RNNMEM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ACTION_TIMEOUT = 120.0  # seconds without the end of a rerun: an error
from rnnmem.units import REGISTRY  # noqa: E402 (after the path is set)

UNIT_LABELS = {unit.id: unit.label for unit in REGISTRY.values()}  # what the app's links carry
SENTENCES = [
    "the united states of america is a country in north america",
    "the history of the city begins with the arrival of people from the south",
    "in mathematics a group is a set with an operation that combines any two elements",
    "the formal study of grammar is an important part of education from a young age",
    "parts of north africa were ruled by the roman empire for several centuries",
    "the first world war began in europe and spread to other parts of the world",
    "music of the nineteenth century was written for larger orchestras than before",
    "the river flows through the capital before it reaches the sea in the west",
]
THINK = 0.15  # seconds between a visitor's actions (a person typing about seven letters a second)


# ---- the server ----------------------------------------------------------------------------------------

class Server:
    """`streamlit run app.py` in its own process group, with its CPU time and memory read from /proc."""

    def __init__(self, url: str | None):
        self.process = None
        if url:
            self.url, self.pid = url.rstrip("/"), None
            return
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(REPO / "benchmarks" / "load-server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not start; see benchmarks/load-server.log") from None
                time.sleep(0.3)

    def processes(self) -> list[int]:
        """The server process and its descendants (the analysis workers)."""
        found, todo = [], [self.pid] if self.pid is not None else []
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    todo += [int(child) for child in (task / "children").read_text().split()]
                except OSError:
                    pass
        return found

    def _proc(self, name: str, *, workers_only: bool = False) -> list[str]:
        """/proc/PID/NAME of the server and each of its workers, or of the workers alone (one that just
        ended is skipped)."""
        texts = []
        for pid in self.processes():
            if workers_only and pid == self.pid:
                continue
            try:
                texts.append(Path(f"/proc/{pid}/{name}").read_text())
            except OSError:
                pass
        return texts

    def cpu_seconds(self, *, workers_only: bool = False) -> float:
        """CPU seconds used so far by the server and its workers (utime + stime), or by the workers alone."""
        if self.pid is None:
            return float("nan")
        fields = [text.rsplit(")", 1)[1].split() for text in self._proc("stat", workers_only=workers_only)]
        return sum(int(f[11]) + int(f[12]) for f in fields) / os.sysconf("SC_CLK_TCK")

    def settle(self, quiet: float = 0.5, limit: float = 120.0) -> None:
        """Wait until the server and its workers have used no CPU for ``quiet`` seconds: the work an action
        left queued (a worker's matrix, messages still being sent) is done."""
        last, deadline = self.cpu_seconds(), time.monotonic() + limit
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.cpu_seconds()
            if now - last < 0.015:  # at most one clock tick: idle
                return
            last = now

    def rss_mb(self) -> float:
        """Resident memory of the server and its workers together."""
        if self.pid is None:
            return float("nan")
        return sum(int(line.split()[1]) / 1024 for text in self._proc("status") for line in text.splitlines()
                   if line.startswith("VmRSS:"))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group this benchmark started
            self.process.wait(timeout=30)
            self.log.close()


class MemorySampler(threading.Thread):
    """The server's peak RSS, sampled every 0.2 s while running."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server, self.peak, self._done = server, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.2):
            try:
                self.peak = max(self.peak, self.server.rss_mb())
            except OSError:
                return

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


# ---- one visitor over Streamlit's websocket ---------------------------------------------------------------

@dataclass
class Record:
    times: dict = field(default_factory=lambda: defaultdict(list))  # action -> seconds
    errors: list = field(default_factory=list)  # (action, reason)


class ProtocolVisitor:
    """A browser session without the browser: reruns the app with the widget values a visitor would set."""

    def __init__(self, url: str, record: Record, units: list[str]):
        self.url, self.record, self.units = url, record, units
        self.ws = None
        self.widgets: dict[str, str] = {}  # widget key -> widget id, as the last run drew them
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page = ""

    async def open(self, page: str, params: dict, action: str = "open link") -> None:
        """A new browser tab on ``/page?params``: a new session."""
        import websockets

        await self.close()
        self.ws = await websockets.connect(self.url.replace("http", "ws", 1) + "/_stcore/stream",
                                           subprotocols=["streamlit"], origin=self.url, max_size=None)
        self.page, self.widgets = page, {}
        query = urlencode({"units": [UNIT_LABELS[u] for u in self.units], **params}, doseq=True)
        await self._rerun(action, query_string=query, page_name=page)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def set_widget(self, action: str, key: str, **value) -> None:
        """Change one widget, as a keystroke, a slider move or a click does."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        if key not in self.widgets:
            self.record.errors.append((action, f"no widget {key!r} on the page"))
            return
        state = WidgetState(id=self.widgets[key], **value)
        await self._rerun(action, widget_states=[state], page_name=self.page)

    async def switch(self, page: str) -> None:
        self.page, self.widgets = page, {}
        query = urlencode({"units": [UNIT_LABELS[u] for u in self.units]}, doseq=True)
        await self._rerun("switch page", query_string=query, page_name=page,
                          page_script_hash=self.pages.get(page, ""))

    async def _rerun(self, action: str, *, widget_states=(), query_string: str = "", page_name: str = "",
                     page_script_hash: str = "") -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        client = msg.rerun_script
        client.query_string, client.page_name, client.page_script_hash = query_string, page_name, page_script_hash
        client.widget_states.widgets.extend(widget_states)
        start = time.perf_counter()
        try:
            await self.ws.send(msg.SerializeToString())
            error = await asyncio.wait_for(self._until_finished(), ACTION_TIMEOUT)
        except asyncio.TimeoutError:
            error = f"no answer in {ACTION_TIMEOUT:.0f} s"
        except Exception as failure:  # the connection dropped: the visitor sees a broken page
            error = f"{type(failure).__name__}: {failure}"
        if error:
            self.record.errors.append((action, error))
        else:
            self.record.times[action].append(time.perf_counter() - start)

    async def _until_finished(self) -> str | None:
        """Read the run's messages; None when it finished cleanly, else why not."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        error = None
        while True:
            message = ForwardMsg()
            message.ParseFromString(await self.ws.recv())
            kind = message.WhichOneof("type")
            if kind == "navigation":
                self.pages = {page.url_pathname: page.page_script_hash for page in message.navigation.app_pages}
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                name = element.WhichOneof("type")
                if name == "exception":
                    error = f"application error: {element.exception.type} {element.exception.message[:200]}"
                widget_id = getattr(getattr(element, name), "id", "") if name else ""
                if widget_id.startswith("$$ID-"):
                    self.widgets[widget_id.split("-", 2)[2]] = widget_id
            elif kind == "script_finished":
                status = message.script_finished
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    return "the script failed to compile"
                if status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return error


async def protocol_visitor(url: str, record: Record, units: list[str], deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    visitor = ProtocolVisitor(url, record, units)
    try:
        while time.monotonic() < deadline:
            sentence = rng.choice(SENTENCES)
            # A share link to a connectivity view, then a few characters selected.
            await visitor.open("connectivity", {"text": f"{rng.randrange(10**6)} {sentence}",
                                                "pos": str(rng.randrange(10, 40))})
            for _ in range(3):
                if time.monotonic() >= deadline:
                    return
                await asyncio.sleep(THINK)
                await visitor.set_widget("select character", "pos", double_array_value={"data": [rng.randrange(1, 60)]})
            # A new text typed on the Connectivity page (its first view of that text).
            await asyncio.sleep(THINK)
            await visitor.set_widget("new connectivity view", "text",
                                     string_value=f"{rng.choice(SENTENCES)} {rng.randrange(10**6)}")
            # Autocomplete: clear the box and type a sentence letter by letter.
            await asyncio.sleep(THINK)
            await visitor.switch("autocomplete")
            await visitor.set_widget("keystroke", "text", string_value="")
            typed = ""
            for char in f"{rng.choice(SENTENCES)} {rng.choice(SENTENCES)}"[:rng.randrange(20, 60)]:
                if time.monotonic() >= deadline:
                    return
                typed += char
                await asyncio.sleep(THINK)
                await visitor.set_widget("keystroke", "text", string_value=typed)
    finally:
        await visitor.close()


# ---- visitors in a browser --------------------------------------------------------------------------------

def browser_visitor(url: str, record: Record, units: list[str], deadline: float, seed: int) -> None:
    """One visitor in Chromium: types into the Autocomplete box and moves the Connectivity slider."""
    from playwright.sync_api import sync_playwright

    rng = random.Random(seed)
    done = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    query = urlencode({"units": [UNIT_LABELS[u] for u in units]}, doseq=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context().new_page()
        page.set_default_timeout(ACTION_TIMEOUT * 1000)

        def timed(action: str, step) -> None:
            start = time.perf_counter()
            try:
                step()
                page.locator(done).wait_for(state="attached")
                if page.locator('[data-testid="stException"]').count():
                    record.errors.append((f"browser {action}", "application error"))
                    return
            except Exception as failure:  # noqa: BLE001 - any failure is the visitor's error
                record.errors.append((f"browser {action}", f"{type(failure).__name__}"))
                return
            record.times[f"browser {action}"].append(time.perf_counter() - start)

        try:
            while time.monotonic() < deadline:
                timed("open link", lambda: page.goto(f"{url}/autocomplete?{query}"))
                box = page.locator('input[aria-label="Type here"]')
                box.fill("")
                for char in rng.choice(SENTENCES)[:30]:
                    if time.monotonic() >= deadline:
                        break
                    timed("keystroke", lambda c=char: (box.press(c), page.wait_for_timeout(200)))
        finally:
            browser.close()


# ---- running and reporting --------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_level(server: Server, visitors: int, browsers: int, seconds: float, units: list[str]) -> dict:
    record = Record()
    sampler = MemorySampler(server)
    sampler.start()
    cpu0, workers0, wall0 = server.cpu_seconds(), server.cpu_seconds(workers_only=True), time.monotonic()
    deadline = wall0 + seconds
    threads = [threading.Thread(target=browser_visitor, args=(server.url, record, units, deadline, 1000 + i))
               for i in range(browsers)]
    for thread in threads:
        thread.start()

    async def protocol_visitors() -> None:
        await asyncio.gather(*(protocol_visitor(server.url, record, units, deadline, i)
                               for i in range(visitors - browsers)))

    asyncio.run(protocol_visitors())
    for thread in threads:
        thread.join()
    wall = time.monotonic() - wall0
    cpu, workers = server.cpu_seconds() - cpu0, server.cpu_seconds(workers_only=True) - workers0
    return {"visitors": visitors, "browsers": browsers, "wall": wall, "record": record, "cores": cpu / wall,
            "cpu": cpu, "workers_cpu": workers, "peak_mb": sampler.stop()}


def report(level: dict) -> None:
    record = level["record"]
    actions = sum(len(times) for times in record.times.values())
    print(f"\n{level['visitors']} visitor(s) ({level['browsers']} in Chromium), {level['wall']:.0f} s: {actions} actions, "
          f"{len(record.errors)} errors; server CPU {level['cores']:.2f} cores, peak memory {level['peak_mb']:.0f} MB")
    print(f"  CPU {level['cpu']:.1f} s (workers {level['workers_cpu']:.1f} s): "
          f"{level['cpu'] / max(actions, 1):.3f} CPU s per action, all kinds together")
    for action, times in sorted(record.times.items()):
        print(f"  {action:28s} n={len(times):5d}  p50 {statistics.median(times):6.2f} s  "
              f"p95 {percentile(times, 0.95):6.2f} s  max {max(times):6.2f} s  {len(times) / level['wall']:5.2f}/s")
    for action, reason in record.errors[:10]:
        print(f"  error in {action}: {reason}")


def cpu_per_action(server: Server, units: list[str], count: int, seed: int = 7) -> None:
    """CPU seconds of the server and its workers per keystroke and per new connectivity view, by one
    visitor: keystrokes typed as in the load test, one new view at a time, each measured until the server
    and workers are idle again (so a view's matrix, computed by a worker after the view answered, counts);
    the server's own idle CPU (its file watcher, ~0.01 cores) over the same wall time is subtracted.
    Unlike latencies, CPU seconds change little with other work on the same cores (noisier, though)."""
    rng = random.Random(seed)
    record = Record()
    used: dict = defaultdict(lambda: [0.0, 0.0])  # action -> [CPU seconds of server and workers, of workers]
    server.settle()
    cpu0, wall0 = server.cpu_seconds(), time.monotonic()
    time.sleep(3)
    idle = (server.cpu_seconds() - cpu0) / (time.monotonic() - wall0)  # cores used doing nothing

    async def measured(action: str, steps) -> None:
        await asyncio.to_thread(server.settle)
        cpu0, workers0, wall0 = server.cpu_seconds(), server.cpu_seconds(workers_only=True), time.monotonic()
        await steps()
        await asyncio.to_thread(server.settle)
        used[action][0] += server.cpu_seconds() - cpu0 - idle * (time.monotonic() - wall0)
        used[action][1] += server.cpu_seconds(workers_only=True) - workers0

    async def actions() -> None:
        visitor = ProtocolVisitor(server.url, record, units)
        await visitor.open("autocomplete", {"text": ""})

        async def typing() -> None:
            while len(record.times["keystroke"]) < count:  # sentences typed letter by letter
                sentence = f"{rng.choice(SENTENCES)} {rng.choice(SENTENCES)}"[:rng.randrange(20, 60)]
                for end in range(1, min(len(sentence), count - len(record.times["keystroke"])) + 1):
                    await asyncio.sleep(THINK)
                    await visitor.set_widget("keystroke", "text", string_value=sentence[:end])

        await measured("keystroke", typing)
        await visitor.open("connectivity", {"text": SENTENCES[0]})
        for _ in range(count):
            text = f"{rng.choice(SENTENCES)} {rng.randrange(10**6)}"
            await measured("new connectivity view",
                           lambda: visitor.set_widget("new connectivity view", "text", string_value=text))
        await visitor.close()

    asyncio.run(actions())
    print(f"\nCPU per action, one visitor ({count} of each; the server's idle {idle:.3f} cores subtracted):")
    for action, (cpu, workers) in used.items():
        n = max(len(record.times[action]), 1)
        print(f"  {action:28s} {cpu / n:.3f} CPU s each (server {(cpu - workers) / n:.3f}, workers "
              f"{workers / n:.3f}); wall p50 {statistics.median(record.times[action]):.2f} s")
    for action, reason in record.errors[:10]:
        print(f"  error in {action}: {reason}")


def memory_over_texts(server: Server, texts: int, units: list[str]) -> None:
    """One visitor opens ``texts`` distinct texts on Connectivity and Autocomplete; memory every 50."""
    record = Record()

    async def visit() -> list[tuple[int, float]]:
        visitor, marks = ProtocolVisitor(server.url, record, units), []
        await visitor.open("connectivity", {"text": SENTENCES[0]})
        for n in range(1, texts + 1):
            await visitor.set_widget("new connectivity view", "text", string_value=f"{n} {SENTENCES[n % len(SENTENCES)]}")
            if n % 50 == 0:
                marks.append((n, server.rss_mb()))
        await visitor.switch("autocomplete")
        for n in range(1, texts + 1):
            await visitor.set_widget("keystroke", "text", string_value=f"{SENTENCES[n % len(SENTENCES)]} {n}")
        marks.append((2 * texts, server.rss_mb()))
        await visitor.close()
        return marks

    marks = asyncio.run(visit())
    print(f"\nmemory over {texts} distinct connectivity texts, then {texts} autocomplete texts "
          f"({len(record.errors)} errors): " + ", ".join(f"{n}: {mb:.0f} MB" for n, mb in marks))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--visitors", type=int, nargs="+", default=[1, 5, 10], help="visitors at once, one run each")
    p.add_argument("--browsers", type=int, default=0, help="of them, visitors in Chromium (the rest: websocket)")
    p.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    p.add_argument("--cpu-actions", type=int, default=20,
                   help="then CPU seconds per keystroke and per new connectivity view over this many of each, "
                        "one at a time (0: skip)")
    p.add_argument("--texts", type=int, default=0, help="then measure memory over this many distinct texts")
    p.add_argument("--units", nargs="+", default=["rnn", "gru", "lstm", "nlstm"], help="units every visitor shows")
    p.add_argument("--url", default=None, help="a server already running (default: start `streamlit run app.py`)")
    args = p.parse_args()

    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} before the run (anything above 0 is other work "
          f"competing with the server); units {' '.join(args.units)}; {args.seconds:.0f} s per run")
    server = Server(args.url)
    try:
        print(f"server {server.url}, memory after start {server.rss_mb():.0f} MB")
        warm = run_level(server, 1, 0, 1.0, args.units)  # first model loads and imports, not counted
        print(f"warmed up: {sum(len(t) for t in warm['record'].times.values())} actions, memory {server.rss_mb():.0f} MB")
        for visitors in args.visitors:
            report(run_level(server, visitors, min(args.browsers, visitors), args.seconds, args.units))
        if args.cpu_actions:
            cpu_per_action(server, args.units, args.cpu_actions)
        if args.texts:
            memory_over_texts(server, args.texts, args.units)
    finally:
        server.stop()
    if server.process is not None:
        log = (REPO / "benchmarks" / "load-server.log").read_text(errors="replace")
        problems = [line for line in log.splitlines() if "Traceback" in line or "ERROR" in line]
        print(f"\nserver log: {len(problems)} tracebacks or errors" + (f"; first: {problems[0]}" if problems else ""))


if __name__ == "__main__":
    main()
