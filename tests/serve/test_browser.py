"""Browser test: Playwright drives Debian's chromium (headless) against a live uvicorn on loopback.

Skips when chromium or the playwright package is missing (never downloads a browser).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest

from paperzoo.serve import ServeConfig, create_app

CHROMIUM = os.environ.get("PAPERZOO_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _real_agents() -> bool:
    try:
        from paperzoo.dialogue import load_agent  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.fixture
def live_server(booking_agent, hash_index):
    import uvicorn

    # the real dialogue agents when paperzoo.dialogue offers them, else the fake booking agent
    app = create_app(ServeConfig(hash_index=hash_index), agents=None if _real_agents() else {"task": booking_agent})
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    t.join(10)


def test_page_in_chromium(live_server, hash_index, tmp_path):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which("chromium"):
        pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install chromium chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip) not installed")
    url, app = live_server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")
            # G2P: type a word, see its phonemes (CMUdict: exact)
            page.fill("#g2p-input", "hello")
            page.click("#g2p-submit")
            cell = page.locator("#g2p-output td.phon").first
            cell.wait_for()
            assert cell.inner_text() == "HH AH L OW"
            # a short booking dialogue with the task agent
            if app.state.panels.get("chat", {}).get("available"):
                page.select_option("#chat-agent", "task")
                page.click("#chat-start")
                page.wait_for_selector("#chat-log .msg.agent")
                for text in ("I want to see a movie", "2 tickets please"):
                    n = page.locator("#chat-log .msg.agent").count()
                    page.fill("#chat-input", text)
                    page.click("#chat-send")
                    page.locator("#chat-log .msg.agent").nth(n).wait_for()  # the agent's next reply
                assert page.locator("#chat-log .msg.user").count() == 2
                assert page.locator("#chat-log .msg.err").count() == 0
                replies = page.locator("#chat-log .msg.agent").all_inner_texts()
                assert len(replies) == 3 and all(r.strip() for r in replies)
            # image search over the hash index: upload an indexed image, it comes back first at distance 0
            page.select_option("#search-index", "hash")
            query = (hash_index.parent / "images" / "img3.png").read_bytes()
            page.set_input_files("#search-file", files=[{"name": "q.png", "mimeType": "image/png", "buffer": query}])
            page.click("#search-submit")
            page.locator("#search-results figure").first.wait_for()
            caption = page.locator("#search-results figcaption").first.inner_text()
            assert caption.startswith("1. ") and "Hamming 0/16" in caption
            assert page.locator("#search-results figure").count() == 6  # k=8 asked, the index holds 6
            shot = tmp_path / "serve_page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
        finally:
            browser.close()
