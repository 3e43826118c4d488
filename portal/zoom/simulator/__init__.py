"""A local fake of Zoom that speaks Zoom's HTTP API, so the real client code runs against it.

External contract (shapes and codes follow ../shared/ZOOM_API.md; see each module):
- OAuth (`oauth.py`): `GET|POST /oauth/authorize` (HTML sign-in page), `POST /oauth/token`
  (Basic client auth; authorization_code with PKCE, rotating refresh_token), `POST /oauth/revoke`.
- REST (`api.py`): `/v2/users/{me}`, `/v2/users/{me}/settings`, `/v2/users/{me}/meetings`
  (POST, GET list), `/v2/meetings/{id}` (GET, PATCH, DELETE). Bearer auth (401 code 124), scopes
  (400 code 4711), `{"code","message"}` errors, `x-zm-trackingid`, `X-RateLimit-*`, 429s.
- Webhooks (`webhooks.py`): signed POSTs (`x-zm-request-timestamp`, `x-zm-signature`) to the
  configured endpoint; URL validation; retries on the simulated clock.
- Control page (`control.py`): `GET /` and `POST /control/<action>`; the same switches are Python
  methods on `SimulatorState` (`faults.py`). `GET /control/stats` (JSON: requests, peak per
  second and 429s per Zoom account, token calls) and `POST /control/stats/reset` (`stats.py`).
- Meeting pages (`pages.py`): `GET /s/<id>?zak=` (host starts the meeting) and
  `GET /j/<id>?pwd=[&uname=]` (participant joins or waits), the targets of start_url/join_url
  when `SimConfig.meeting_url_base` is set.

Mounting inside the portal: `register_simulator(app, csrf)`
- builds a `SimulatorState` into `app.extensions["zoom_sim"]` and registers the blueprint at
  `/zoom-sim` (OAuth `/zoom-sim/oauth/...`, API `/zoom-sim/v2/...`, control page `/zoom-sim/`);
- `csrf.exempt(bp)` for the whole blueprint: OAuth/API endpoints are called by the client, not
  by browser forms, and the control-page forms are a dev tool (the portal's Fetch-Metadata check
  still refuses cross-site POSTs);
- client id = `ZOOM_CLIENT_ID` or `ZOOM_SIM_CLIENT_ID` or "sim-client-id" (secret likewise with
  `ZOOM_CLIENT_SECRET` / `ZOOM_SIM_CLIENT_SECRET` / "sim-client-secret"), and sets
  `ZOOM_SIM_CLIENT_ID` / `ZOOM_SIM_CLIENT_SECRET` when unset;
- allowed redirect: `ZOOM_REDIRECT_URI` if set, else `/zoom/callback` on the host the authorize
  request came to or on any loopback host/port (so both 127.0.0.1 and localhost work);
- base URL: `ZOOM_SIM_BASE_URL` (default `http://127.0.0.1:5000/zoom-sim`, set when unset);
  `ZOOM_OAUTH_BASE_URL` becomes it and `ZOOM_API_BASE_URL` becomes it + `/v2`, but only while they
  still hold the real-Zoom defaults (`https://zoom.us`, `https://api.zoom.us/v2`) or are empty;
- meeting links: `meeting_url_base` is the base URL too, so join_url is `{base}/j/<id>?pwd=...`,
  start_url `{base}/s/<id>?zak=...` and personal_meeting_url `{base}/j/<pmi>`, served by
  `pages.py` and clickable with no internet; a truthy `ZOOM_SIM_REAL_URLS` keeps Zoom's real
  `https://<cluster>web.zoom.us/...` shapes instead;
- webhooks go to `ZOOM_SIM_WEBHOOK_URL` (default: `/webhooks/zoom` on the origin of
  `ZOOM_SIM_BASE_URL`), signed with `ZOOM_WEBHOOK_SECRET_TOKEN` or a dev default, which is then
  also written to `ZOOM_WEBHOOK_SECRET_TOKEN` (and `ZOOM_SIM_WEBHOOK_SECRET_TOKEN`) when empty so
  the portal verifies with the same secret;
- optional `ZOOM_SIM_OPTIONS` (dict of `SimConfig` fields, e.g. `{"plan": "free"}`) and
  `ZOOM_SIM_CLOCK` (callable returning an aware UTC datetime) for tests;
- `app.extensions["zoom_sim_wsgi"]` is a second, bare Flask app serving the same state at
  `/zoom-sim`: mount it on a `requests.Session` with `portal.zoom.transport.mount_simulator` to
  call the simulator in-process without re-entering the portal's own request hooks.

Standalone: `create_sim_app(**SimConfig fields)` and `run_live(app)` (see `live.py`).
"""

import hashlib
import hmac
import logging
from urllib.parse import urlsplit

from flask import abort, request
from flask_login import current_user

from . import api, control, oauth, pages  # noqa: F401 - importing them registers the views
from .blueprint import bp
from .errors import OAuthError, ZoomError
from .live import create_sim_app, run_live
from .state import ManualClock, SimConfig, SimulatorState, system_clock
from .webhooks import compact_json, encrypted_token, sign

PREFIX = "/zoom-sim"
DEFAULT_BASE_URL = "http://127.0.0.1:5000" + PREFIX
REAL_OAUTH_BASE_URL = "https://zoom.us"
REAL_API_BASE_URL = "https://api.zoom.us/v2"
DEV_WEBHOOK_SECRET = "zoom-sim-dev-webhook-secret"
FALSE_WORDS = {"", "0", "false", "no", "off"}

__all__ = [
    "ManualClock",
    "OAuthError",
    "SimConfig",
    "SimulatorState",
    "ZoomError",
    "compact_json",
    "create_sim_app",
    "encrypted_token",
    "register_simulator",
    "run_live",
    "sign",
    "system_clock",
]


def register_simulator(app, csrf=None):
    """Mount the simulator on the portal at /zoom-sim and point the Zoom settings at it."""
    cfg = app.config
    base_url = (cfg.get("ZOOM_SIM_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    client_id = cfg.get("ZOOM_CLIENT_ID") or cfg.get("ZOOM_SIM_CLIENT_ID") or "sim-client-id"
    client_secret = (
        cfg.get("ZOOM_CLIENT_SECRET") or cfg.get("ZOOM_SIM_CLIENT_SECRET") or "sim-client-secret"
    )
    if cfg.get("ZOOM_REDIRECT_URI"):
        redirect_uris = [cfg["ZOOM_REDIRECT_URI"]]
    else:
        redirect_uris = ["{host_url}/zoom/callback", "{loopback}/zoom/callback"]
    webhook_url = cfg.get("ZOOM_SIM_WEBHOOK_URL") or origin + "/webhooks/zoom"
    development = app.debug or app.testing
    webhook_secret = (
        cfg.get("ZOOM_WEBHOOK_SECRET_TOKEN")
        or cfg.get("ZOOM_SIM_WEBHOOK_SECRET_TOKEN")
        or (DEV_WEBHOOK_SECRET if development else _derived_secret(cfg["SECRET_KEY"]))
    )
    options = {
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uris": redirect_uris,
        "webhook_url": webhook_url,
        "webhook_secret": webhook_secret,
        "meeting_url_base": None if _truthy(cfg.get("ZOOM_SIM_REAL_URLS")) else base_url,
    }
    options.update(cfg.get("ZOOM_SIM_OPTIONS") or {})
    state = SimulatorState(SimConfig(**options), clock=cfg.get("ZOOM_SIM_CLOCK"))
    app.extensions["zoom_sim"] = state
    app.extensions["zoom_sim_wsgi"] = create_sim_app(state, url_prefix=PREFIX)
    app.register_blueprint(bp, url_prefix=PREFIX)
    if csrf is not None:
        csrf.exempt(bp)

    cfg.setdefault("ZOOM_SIM_CLIENT_ID", client_id)
    cfg.setdefault("ZOOM_SIM_CLIENT_SECRET", client_secret)
    cfg["ZOOM_SIM_BASE_URL"] = base_url
    cfg.setdefault("ZOOM_SIM_WEBHOOK_URL", webhook_url)
    cfg.setdefault("ZOOM_SIM_WEBHOOK_SECRET_TOKEN", webhook_secret)
    if not cfg.get("ZOOM_WEBHOOK_SECRET_TOKEN"):
        cfg["ZOOM_WEBHOOK_SECRET_TOKEN"] = webhook_secret
    if cfg.get("ZOOM_OAUTH_BASE_URL") in (None, "", REAL_OAUTH_BASE_URL):
        cfg["ZOOM_OAUTH_BASE_URL"] = base_url
    if cfg.get("ZOOM_API_BASE_URL") in (None, "", REAL_API_BASE_URL):
        cfg["ZOOM_API_BASE_URL"] = base_url + "/v2"
    if not development:
        logging.getLogger("portal.zoom.simulator").warning(
            "ZOOM_SIMULATOR is on: a simulated Zoom is mounted at %s (a demo, not real Zoom).",
            PREFIX,
        )
        app.before_request(_admins_only_control)
    return state


CONTROL_ENDPOINTS = {
    "zoom_sim.control_page",
    "zoom_sim.control_action",
    "zoom_sim.control_stats",
    "zoom_sim.control_stats_reset",
}


def _derived_secret(secret_key):
    """A webhook secret for a production demo: private, and the same in every worker."""
    return hmac.new(secret_key.encode(), b"zoom-simulator-webhook", hashlib.sha256).hexdigest()


def _admins_only_control():
    """Outside development the simulator's switches are for signed-in administrators only."""
    if request.endpoint not in CONTROL_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        abort(404)
    if current_user.role not in ("center_admin", "account_admin"):
        abort(404)
    return None


def _truthy(value):
    """Read a boolean setting that may come from the environment as a string."""
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_WORDS
    return bool(value)
