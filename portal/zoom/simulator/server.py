"""The Zoom simulator as its own server, at its own origin, as a deployed portal meets Zoom.

    make zoom-sim PORT=5001
    # or: ZOOM_SIM_BASE_URL=http://127.0.0.1:5001 \\
    #     .venv/bin/flask --app portal.zoom.simulator.server run --port 5001

It reads the same variables as the portal, so one environment file configures both:

- ``ZOOM_CLIENT_ID`` / ``ZOOM_CLIENT_SECRET``: the app credentials it accepts (default
  ``sim-client-id`` / ``sim-client-secret``);
- ``ZOOM_REDIRECT_URI``: the only redirect it allows (default: ``/zoom/callback`` on any
  loopback host and port);
- ``ZOOM_WEBHOOK_SECRET_TOKEN``: signs the webhooks it sends to ``ZOOM_SIM_WEBHOOK_URL``
  (the portal's ``…/webhooks/zoom``; none are sent without it);
- ``ZOOM_SIM_BASE_URL``: its own address, used in join and start links (default
  ``http://127.0.0.1:5001``);
- ``ZOOM_SIM_SCOPES``: ``classic`` (default) or ``granular`` tokens; ``ZOOM_SIM_MISSING_SCOPES``
  leaves the named scopes (comma-separated) out of every grant.

The portal then points ``ZOOM_OAUTH_BASE_URL`` at ``ZOOM_SIM_BASE_URL`` and ``ZOOM_API_BASE_URL``
at ``ZOOM_SIM_BASE_URL`` + ``/v2``. The control page at ``/`` is the simulator's own (it is
Zoom's side of the world, not the portal's).
"""

import os

from .live import create_sim_app
from .state import SimConfig
from .tokens import CLASSIC_SCOPES, GRANULAR_SCOPES

DEFAULT_BASE_URL = "http://127.0.0.1:5001"


def options_from_env(environ=None):
    """SimConfig fields from environment variables (see the module docstring)."""
    env = os.environ if environ is None else environ
    base_url = (env.get("ZOOM_SIM_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    mode = (env.get("ZOOM_SIM_SCOPES") or "classic").strip().lower()
    if mode not in ("classic", "granular"):
        raise ValueError("ZOOM_SIM_SCOPES must be 'classic' or 'granular'.")
    options = {
        "client_id": env.get("ZOOM_CLIENT_ID") or "sim-client-id",
        "client_secret": env.get("ZOOM_CLIENT_SECRET") or "sim-client-secret",
        "redirect_uris": [env["ZOOM_REDIRECT_URI"]]
        if env.get("ZOOM_REDIRECT_URI")
        else ["{loopback}/zoom/callback"],
        "webhook_url": None,
        "meeting_url_base": base_url,
        "scope_mode": mode,
    }
    if env.get("ZOOM_SIM_WEBHOOK_URL") and env.get("ZOOM_WEBHOOK_SECRET_TOKEN"):
        options["webhook_url"] = env["ZOOM_SIM_WEBHOOK_URL"]
        options["webhook_secret"] = env["ZOOM_WEBHOOK_SECRET_TOKEN"]
    missing = {s.strip() for s in (env.get("ZOOM_SIM_MISSING_SCOPES") or "").split(",")}
    missing.discard("")
    if missing:
        granted = GRANULAR_SCOPES if mode == "granular" else CLASSIC_SCOPES
        options["scopes"] = tuple(s for s in granted if s not in missing)
    return options


def create_app(environ=None, **overrides):
    """The standalone simulator app; ``overrides`` are SimConfig fields (tests)."""
    options = options_from_env(environ)
    options.update(overrides)
    app = create_sim_app(**{k: v for k, v in options.items() if k in SimConfig.__annotations__})

    @app.route("/favicon.ico")
    def favicon():
        return "", 204  # browsers ask for it on every page; Zoom's own is not ours to copy

    return app


def sim_state(app):
    """The SimulatorState behind a standalone simulator app."""
    return app.extensions["zoom_sim"]
