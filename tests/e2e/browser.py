"""Browser helpers: log in and out through the real pages."""

import socket

from support import TEST_PASSWORD


def log_in(watch, base, email):
    page = watch.page
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def log_out(watch):
    watch.page.click("summary")
    watch.page.click("text=Log out")
    watch.page.wait_for_load_state("networkidle")


def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
