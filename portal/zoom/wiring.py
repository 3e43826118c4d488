"""Where the portal chooses its Zoom: the real one, or the simulator mounted at /zoom-sim.

``zoom_settings(app)`` builds the client's ``ZoomSettings`` from the app config
(with the simulator's client id, secret and redirect when it is mounted), and
``zoom_http(app)`` returns a ``requests.Session`` on which the simulator's bare
WSGI app is mounted, so the client's code path is the same as against Zoom but
no second server thread is needed. ``client_for(app, tutor)`` combines both.
"""

import time
from dataclasses import replace
from urllib.parse import urlsplit

import requests
from flask import g

from .breaker import Breaker
from .client import ZoomClient
from .settings import ZoomSettings, is_zoom_host

CALLBACK_PATH = "/zoom/callback"


def zoom_settings(app):
    """The ZoomSettings for this app (cached per app)."""
    cached = app.extensions.get("zoom_settings")
    if cached is not None:
        return cached
    cfg = app.config
    if cfg.get("ZOOM_SIMULATOR"):
        parts = urlsplit(cfg["ZOOM_SIM_BASE_URL"])
        settings = ZoomSettings(
            client_id=cfg["ZOOM_SIM_CLIENT_ID"],
            client_secret=cfg["ZOOM_SIM_CLIENT_SECRET"],
            redirect_uri=cfg.get("ZOOM_REDIRECT_URI")
            or f"{parts.scheme}://{parts.netloc}{CALLBACK_PATH}",
            oauth_base_url=cfg["ZOOM_OAUTH_BASE_URL"],
            api_base_url=cfg["ZOOM_API_BASE_URL"],
            encryption_keys=cfg.get("TOKEN_ENCRYPTION_KEYS") or "",
        )
    else:
        settings = ZoomSettings.from_config(cfg)
    app.extensions["zoom_settings"] = settings
    return settings


def zoom_link_base(app):
    """Where meeting links of a Zoom other than the real one live, or None for real Zoom.

    Start and Join redirect only to https links on zoom.us (or a subdomain), or to links
    under this base: the mounted simulator, or a configured Zoom at another address (the
    standalone simulator of a rehearsal). It is the Zoom the administrator configured.
    """
    cfg = app.config
    if cfg.get("ZOOM_SIMULATOR"):
        return cfg.get("ZOOM_SIM_BASE_URL")
    base = (cfg.get("ZOOM_OAUTH_BASE_URL") or "").rstrip("/")
    if not base or is_zoom_host(urlsplit(base).hostname):
        return None
    return base


def zoom_http(app):
    """A requests.Session for Zoom calls; in simulator mode the simulator answers in-process."""
    session = requests.Session()
    sim_app = app.extensions.get("zoom_sim_wsgi")
    # The job consumer is another process: its in-memory simulator would be a
    # different "Zoom", so it calls the web server's simulator over HTTP instead.
    in_process = app.config.get("ZOOM_SIM_IN_PROCESS", True)
    if app.config.get("ZOOM_SIMULATOR") and sim_app is not None and in_process:
        from .transport import mount_simulator

        mount_simulator(session, app.config["ZOOM_SIM_BASE_URL"], sim_app)
    return session


def breaker_for(app):
    """The app's circuit breaker per Zoom host (one per process)."""
    breaker = app.extensions.get("zoom_breaker")
    if breaker is None:
        breaker = app.extensions["zoom_breaker"] = Breaker()
    return breaker


def client_for(app, tutor, budget=None):
    """A ZoomClient for the tutor's current connection (owns its HTTP session).

    ``budget``: the seconds this request may spend on Zoom in all (calls, retries,
    waits); every attempt's timeout is cut to what is left. Jobs pass none.
    """
    settings = zoom_settings(app)
    if budget is not None:
        connect, read = settings.timeout
        settings = replace(settings, timeout=(min(connect, budget), min(read, budget)))
    return ZoomClient(
        tutor,
        settings,
        http=zoom_http(app),
        close_http=True,
        budget=budget,
        breaker=breaker_for(app),
    )


def request_client(app, tutor):
    """A ZoomClient for a web request: every client of one request shares one budget,
    ZOOM_REQUEST_BUDGET_SECONDS (default 8), counted from the request's first client."""
    budget = float(app.config.get("ZOOM_REQUEST_BUDGET_SECONDS", 8.0))
    deadline = g.setdefault("zoom_deadline", time.monotonic() + budget)
    return client_for(app, tutor, budget=max(deadline - time.monotonic(), 0.0))
