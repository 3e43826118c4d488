"""Browser fixtures: the portal on a live local server, driven by Debian's Chromium."""

import os
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Report CSP violations from every document the page loads (init scripts are not subject to
# the page's CSP) to the test, so a violation on an earlier page is not lost by navigating.
CSP_RECORDER = """
document.addEventListener('securitypolicyviolation', function (e) {
  window.__vmpCsp(location.href + ': ' + e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
def live_server(app):
    """Serve the test app on 127.0.0.1 (LIVE_PORT if configured); yield its base URL."""
    server = make_server("127.0.0.1", app.config.get("LIVE_PORT", 0), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class PageWatch:
    """A browser page that records console errors and CSP violations."""

    def __init__(self, page):
        self.page = page
        self.console_errors = []
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.console_errors.append(str(exc)))
        self.csp = []
        page.expose_function("__vmpCsp", lambda violation: self.csp.append(violation))
        page.add_init_script(CSP_RECORDER)

    def csp_violations(self):
        """Every CSP violation on every page this tab visited."""
        return list(self.csp)

    def assert_clean(self):
        assert self.csp_violations() == []
        assert self.console_errors == []


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(width=1200, height=900):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        return PageWatch(context.new_page())

    yield make
    for context in contexts:
        context.close()
