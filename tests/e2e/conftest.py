"""Browser fixtures: `streamlit run app.py` on a free port, and headless Chromium pages against it.

The server starts once per session with a time limit on becoming healthy (/_stcore/health), its output
goes to test-artifacts/streamlit.log (checked for tracebacks by the tests), and its process group is
stopped afterwards. Every page is screenshotted into test-artifacts/ when its test ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("RNNMEM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 120  # seconds for the server to answer its health check (torch import on a busy machine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Server:
    def __init__(self, url: str, log: Path, process: subprocess.Popen):
        self.url, self.log, self.process = url, log, process

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def server():
    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = ARTIFACTS / "streamlit.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "RNNMEM_WORKERS": "1"}  # a worker process, on any machine
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(url, log, process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the group we started: streamlit and nothing else
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


LOCAL_HOSTS = ("127.0.0.1",)


def watch_hosts(context) -> list[str]:
    """Record every request the context's pages make to a host other than the app's own: a self-hosted
    dashboard must make none (fonts, icons, analytics). Returns the list the addresses are added to."""
    foreign: list[str] = []

    def on_request(request):
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            foreign.append(request.url)

    context.on("request", on_request)
    return foreign


@pytest.fixture
def page(browser, request):
    """A fresh browser context (its own Streamlit session); records dialogs and requests to other hosts
    (any fails the test); screenshot at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    foreign = watch_hosts(context)
    page = context.new_page()
    page.foreign_requests = foreign
    page.set_default_timeout(90_000)
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    try:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert not foreign, f"requests to other hosts than the app's: {foreign[:5]}"
