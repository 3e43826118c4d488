"""Where the portal chooses its Zoom: the real one, or the simulator mounted at /zoom-sim.

The factory builds one ``ZoomGateway`` per app (``install``): the client's
``ZoomSettings`` (with the simulator's client id, secret and redirect when it is
mounted), the HTTP sessions (on which the simulator's bare WSGI app is mounted, so
the client's code path is the same as against Zoom but no second server thread is
needed), the circuit breaker per Zoom host, and the per-request time budget.
Services receive the gateway, or one of its client factories, and never the app:
``gateway(tutor)`` is a ZoomClient for jobs and the CLI, ``gateway.for_request``
one that shares the web request's budget.
"""

import time
from dataclasses import replace
from urllib.parse import urlsplit

import requests
from flask import current_app, g

from .breaker import Breaker
from .client import ZoomClient
from .settings import ZoomSettings, is_zoom_host
from .transport import mount_simulator

CALLBACK_PATH = "/zoom/callback"
SETTING_NAMES = (
    "ZOOM_SIMULATOR",
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "ZOOM_REDIRECT_URI",
    "ZOOM_OAUTH_BASE_URL",
    "ZOOM_API_BASE_URL",
    "TOKEN_ENCRYPTION_KEYS",
    "ZOOM_SIM_BASE_URL",
    "ZOOM_SIM_CLIENT_ID",
    "ZOOM_SIM_CLIENT_SECRET",
)


class ZoomGateway:
    """The app's Zoom: settings, HTTP, breaker and budget, built once by the factory.

    ``config`` is the app's config mapping; settings are read on first use, so a
    test (or the mounted simulator) may still change them after the app is built.
    ``simulator_wsgi`` is the mounted simulator's WSGI app, answered in-process.
    """

    def __init__(self, config, simulator_wsgi=None):
        self.config = config
        self.simulator_wsgi = simulator_wsgi
        self.breaker = Breaker()  # one per process: every request shares what it learns
        self._settings = (None, None)

    @property
    def settings(self):
        """The ZoomSettings of the config as it is now (rebuilt when a ZOOM_* value changes)."""
        key = tuple(self.config.get(name) for name in SETTING_NAMES)
        if self._settings[0] != key:
            self._settings = (key, _settings_from(self.config))
        return self._settings[1]

    @property
    def link_base(self):
        """Where meeting links of a Zoom other than the real one live, or None for real Zoom.

        Start and Join redirect only to https links on zoom.us (or a subdomain), or to
        links under this base: the mounted simulator, or a configured Zoom at another
        address (the standalone simulator of a rehearsal). It is the Zoom the
        administrator configured.
        """
        cfg = self.config
        if cfg.get("ZOOM_SIMULATOR"):
            return cfg.get("ZOOM_SIM_BASE_URL")
        base = (cfg.get("ZOOM_OAUTH_BASE_URL") or "").rstrip("/")
        if not base or is_zoom_host(urlsplit(base).hostname):
            return None
        return base

    def http(self):
        """A requests.Session for Zoom calls; with the simulator mounted it answers in-process.

        The job consumer is another process: its in-memory simulator would be a
        different "Zoom", so it calls the web server's simulator over HTTP instead
        (ZOOM_SIM_IN_PROCESS false).
        """
        return self.mount(requests.Session())

    def mount(self, session):
        """Mount the in-process simulator on ``session`` when it is this process's Zoom."""
        cfg = self.config
        in_process = cfg.get("ZOOM_SIM_IN_PROCESS", True)
        if cfg.get("ZOOM_SIMULATOR") and self.simulator_wsgi is not None and in_process:
            mount_simulator(session, cfg["ZOOM_SIM_BASE_URL"], self.simulator_wsgi)
        return session

    def __call__(self, tutor, budget=None):
        """A ZoomClient for the tutor's current connection (owns its HTTP session).

        ``budget``: the seconds this request may spend on Zoom in all (calls, retries,
        waits); every attempt's timeout is cut to what is left. Jobs pass none.
        """
        settings = self.settings
        if budget is not None:
            connect, read = settings.timeout
            settings = replace(settings, timeout=(min(connect, budget), min(read, budget)))
        return ZoomClient(
            tutor, settings, http=self.http(), close_http=True, budget=budget, breaker=self.breaker
        )

    def for_request(self, tutor):
        """A ZoomClient for a web request: every client of one request shares one budget,
        ZOOM_REQUEST_BUDGET_SECONDS (default 8), counted from the request's first client."""
        budget = float(self.config.get("ZOOM_REQUEST_BUDGET_SECONDS", 8.0))
        deadline = g.setdefault("zoom_deadline", time.monotonic() + budget)
        return self(tutor, budget=max(deadline - time.monotonic(), 0.0))


def _settings_from(cfg):
    if not cfg.get("ZOOM_SIMULATOR"):
        return ZoomSettings.from_config(cfg)
    parts = urlsplit(cfg["ZOOM_SIM_BASE_URL"])
    return ZoomSettings(
        client_id=cfg["ZOOM_SIM_CLIENT_ID"],
        client_secret=cfg["ZOOM_SIM_CLIENT_SECRET"],
        redirect_uri=cfg.get("ZOOM_REDIRECT_URI")
        or f"{parts.scheme}://{parts.netloc}{CALLBACK_PATH}",
        oauth_base_url=cfg["ZOOM_OAUTH_BASE_URL"],
        api_base_url=cfg["ZOOM_API_BASE_URL"],
        encryption_keys=cfg.get("TOKEN_ENCRYPTION_KEYS") or "",
    )


def install(app):
    """Build the app's gateway (after the simulator, if any, is mounted)."""
    app.extensions["zoom"] = ZoomGateway(app.config, app.extensions.get("zoom_sim_wsgi"))
    return app.extensions["zoom"]


def gateway(app=None):
    """The gateway of ``app`` (default: the current app)."""
    return (app or current_app).extensions["zoom"]
