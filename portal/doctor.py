"""`flask --app wsgi portal doctor`: check a deployment's settings offline and say what to fix.

Each check is a plain function of the app (and the environment) returning a list of
``(ok, line)`` results; a line names the setting and, when it fails, the fix. Nothing
here calls Zoom: the database is only read (migration status; opening a SQLite file that
does not exist yet creates it empty), the job queue's Redis gets a PING, and the queue
folder gets a temporary file that is deleted at once.
"""

import os
import tempfile
from urllib.parse import urlsplit

import redis

from . import db as dbmod
from . import migrate
from .config import ConfigError, check_production
from .db import database
from .zoom.crypto import cipher
from .zoom.errors import ZoomConfigError
from .zoom.settings import LOOPBACK_HOSTS, ZoomSettings

CALLBACK_PATH = "/zoom/callback"
MIN_SECRET_KEY_LENGTH = 32
REDIS_TIMEOUT_SECONDS = 2
FERNET_HINT = (
    "generate one with python3 -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)
INIT_DB = "flask --app wsgi portal init-db"


def run_checks(app, environ=None):
    """Every check, in reading order; a check that crashes becomes a failed line."""
    environ = os.environ if environ is None else environ
    checks = [
        ("SECRET_KEY", lambda: check_secret_key(app)),
        ("TOKEN_ENCRYPTION_KEYS", lambda: check_token_keys(app)),
        ("ZOOM_CLIENT_ID", lambda: check_zoom_credentials(app)),
        ("ZOOM_REDIRECT_URI", lambda: check_redirect_uri(app)),
        ("ZOOM_OAUTH_BASE_URL", lambda: check_base_urls(app)),
        ("ZOOM_WEBHOOK_SECRET_TOKEN", lambda: check_webhook_secret(app)),
        ("DATABASE_URL", lambda: check_database(app)),
        ("SQLite", lambda: check_sqlite_version(app)),
        ("HUEY_REDIS_URL", lambda: check_job_queue(app)),
        ("REDIS_URL", lambda: check_shared_state(app)),
        ("ZOOM_SIMULATOR", lambda: check_simulator(app)),
        ("TRUSTED_PROXIES", lambda: check_trusted_proxies(app, environ)),
        ("start-up", lambda: check_start_up(app)),
    ]
    results = []
    for name, check in checks:
        try:
            results.extend(check())
        except Exception as exc:  # the doctor reports; it never dies half-way
            results.append((False, f"{name}: the check itself failed ({type(exc).__name__})"))
    return results


def report_lines(results):
    """`ok   …` / `FAIL …`, one line per result."""
    return [("ok   " if ok else "FAIL ") + line for ok, line in results]


def all_ok(results):
    return all(ok for ok, _line in results)


# -- secrets --------------------------------------------------------------------------


def check_secret_key(app):
    key = app.config.get("SECRET_KEY") or ""
    if not key:
        return [(False, "SECRET_KEY is missing: set it to 32 or more random characters")]
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return [
            (
                False,
                f"SECRET_KEY is too short ({len(key)} characters): "
                f"use at least {MIN_SECRET_KEY_LENGTH} random characters",
            )
        ]
    return [(True, f"SECRET_KEY is set ({len(key)} characters)")]


def check_token_keys(app):
    settings = ZoomSettings.from_config(app.config)
    try:
        cipher(settings)  # the portal's own rule: every listed key must be a Fernet key
    except ZoomConfigError as exc:
        return [(False, f"{str(exc).rstrip('.')}: {FERNET_HINT}")]
    count = len(settings.encryption_keys)
    return [(True, f"TOKEN_ENCRYPTION_KEYS has {count} valid Fernet key{_s(count)}")]


def check_zoom_credentials(app):
    cfg = app.config
    if not cfg.get("ZOOM_CLIENT_ID"):
        if cfg.get("ZOOM_SIMULATOR"):
            return [(True, "ZOOM_CLIENT_ID is not set: the simulated Zoom is used")]
        return [
            (
                False,
                "ZOOM_CLIENT_ID is missing: set your Zoom app's client id and secret "
                "(or ZOOM_SIMULATOR=1 for a demo with a simulated Zoom)",
            )
        ]
    results = [(True, "ZOOM_CLIENT_ID is set: real Zoom")]
    if cfg.get("ZOOM_CLIENT_SECRET"):
        results.append((True, "ZOOM_CLIENT_SECRET is set"))
    else:
        results.append(
            (
                False,
                "ZOOM_CLIENT_SECRET is missing: copy it from your Zoom app's credentials "
                "(needed when ZOOM_CLIENT_ID is set)",
            )
        )
    return results


def check_webhook_secret(app):
    cfg = app.config
    if cfg.get("ZOOM_WEBHOOK_SECRET_TOKEN"):
        return [(True, "ZOOM_WEBHOOK_SECRET_TOKEN is set")]
    if cfg.get("ZOOM_CLIENT_ID"):
        return [
            (
                False,
                "ZOOM_WEBHOOK_SECRET_TOKEN is missing: copy the Secret Token of your Zoom app's "
                "event subscription (needed when ZOOM_CLIENT_ID is set)",
            )
        ]
    return [(True, "ZOOM_WEBHOOK_SECRET_TOKEN is not set (only needed with ZOOM_CLIENT_ID)")]


# -- URLs -----------------------------------------------------------------------------


def _absolute(value):
    """The split URL when it is absolute (scheme and host), else None."""
    try:
        parts = urlsplit(value)
        parts.hostname  # noqa: B018 - raises ValueError on a malformed host
    except ValueError:
        return None
    return parts if parts.scheme and parts.netloc else None


def _url_problem(name, value):
    """(ok, line) for an absolute https URL (plain http only on a loopback host)."""
    parts = _absolute(value)
    if parts is None:
        return False, f"{name} must be an absolute URL such as https://…, not {value!r}"
    host = parts.hostname or ""
    if parts.scheme == "https":
        return True, f"{name} is {value}"
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return True, f"{name} uses http on {parts.netloc}: only for local testing"
    if parts.scheme == "http":
        return False, (
            f"{name} must use https: plain http is only for a loopback host "
            f"(127.0.0.1, localhost, [::1]), not {host}"
        )
    return False, f"{name} must use https, not {parts.scheme}:"


def check_redirect_uri(app):
    value = app.config.get("ZOOM_REDIRECT_URI") or ""
    if not value:
        if app.config.get("ZOOM_CLIENT_ID"):
            return [
                (
                    False,
                    "ZOOM_REDIRECT_URI is missing: set it to the redirect URL registered "
                    f"in your Zoom app, https://<this portal>{CALLBACK_PATH}",
                )
            ]
        return [(True, "ZOOM_REDIRECT_URI is not set (only needed with ZOOM_CLIENT_ID)")]
    parts = _absolute(value)
    if parts is not None and (parts.path != CALLBACK_PATH or parts.query or parts.fragment):
        shown = value.split(parts.netloc, 1)[1] or "(no path)"
        return [(False, f"ZOOM_REDIRECT_URI must end in exactly {CALLBACK_PATH}, not {shown}")]
    return [_url_problem("ZOOM_REDIRECT_URI", value)]


def check_base_urls(app):
    defaults = {
        "ZOOM_OAUTH_BASE_URL": "https://zoom.us",
        "ZOOM_API_BASE_URL": "https://api.zoom.us/v2",
    }
    return [
        _url_problem(name, app.config.get(name) or default) for name, default in defaults.items()
    ]


def _safe_url(url):
    """The URL without user name or password, for printing."""
    parts = urlsplit(url or "")
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else (url or "")


# -- database -------------------------------------------------------------------------


def check_database(app):
    where = _safe_url(app.config.get("DATABASE_URL"))
    opened_here = database.is_closed()
    try:
        if opened_here:
            database.connect()
        rows = migrate.runner().status()
    except Exception as exc:
        return [(False, f"DATABASE_URL: cannot open {where} ({type(exc).__name__}: {exc})")]
    finally:
        if opened_here and not database.is_closed():
            database.close()
    results = [(True, f"DATABASE_URL: {where} is reachable")]
    pending = [m.name for m in rows if m.path is not None and not m.applied]
    unknown = [m.name for m in rows if m.path is None]
    if pending:
        n = len(pending)
        results.append((False, f"DATABASE_URL: {n} migration{_s(n)} pending: run {INIT_DB}"))
    elif unknown:
        n = len(unknown)
        results.append(
            (
                False,
                f"DATABASE_URL: the database has {n} migration{_s(n)} this code does not have "
                f"({', '.join(unknown)}): the code is older than the database",
            )
        )
    else:
        results.append((True, f"DATABASE_URL: all {len(rows)} migrations applied"))
    return results


def check_sqlite_version(app):
    if not dbmod.is_sqlite():
        return []
    have = dbmod.sqlite_runtime_version()
    need = tuple(app.config.get("SQLITE_MIN_VERSION") or ())
    have_s, need_s = ".".join(map(str, have)), ".".join(map(str, need))
    if have < need:
        return [
            (
                False,
                f"SQLite {have_s} is older than {need_s} (WAL-reset bug): "
                "reinstall with make install",
            )
        ]
    return [(True, f"SQLite {have_s} ({need_s} or newer needed)")]


# -- job queue ------------------------------------------------------------------------


def check_job_queue(app):
    url = app.config.get("HUEY_REDIS_URL") or ""
    if url:
        return [_ping_redis(url)]
    return [_writable_folder(app.instance_path)]


def _ping_redis(url, name="HUEY_REDIS_URL", purpose=""):
    where = urlsplit(url).netloc.rpartition("@")[2] or _safe_url(url)
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
    except ValueError:
        return False, f"{name} must look like redis://host:6379/0, not {_safe_url(url)!r}"
    try:
        client.ping()
    except redis.RedisError as exc:
        return False, (
            f"{name}: no Redis answers at {where} ({type(exc).__name__}): "
            "start Redis or fix the URL"
        )
    finally:
        client.close()
    return True, f"{name}: Redis at {where} answers PING{purpose}"


def check_shared_state(app):
    """REDIS_URL (else HUEY_REDIS_URL): where processes share the Zoom rate budget."""
    url = (app.config.get("REDIS_URL") or "").strip()
    if url:
        return [_ping_redis(url, "REDIS_URL", ": every process shares the Zoom rate budget")]
    if (app.config.get("HUEY_REDIS_URL") or "").strip():
        return [
            (
                True,
                "REDIS_URL is not set: the Zoom rate budget is shared through "
                "HUEY_REDIS_URL's Redis",
            )
        ]
    return [
        (
            True,
            "REDIS_URL is not set: each process keeps its own Zoom rate budget "
            "(set it, or HUEY_REDIS_URL, before running job consumers on several hosts)",
        )
    ]


def _writable_folder(path):
    prefix = "HUEY_REDIS_URL is not set: the job queue is SQLite in"
    existing = path
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    try:
        if existing == path:
            if not os.path.isdir(path):
                raise NotADirectoryError(path)
            with tempfile.TemporaryFile(dir=path):
                pass
            queue = os.path.join(path, "huey.db")
            if os.path.exists(queue) and not os.access(queue, os.R_OK | os.W_OK):
                raise PermissionError(queue)
        elif not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError(existing)
    except OSError as exc:
        return False, (
            f"{prefix} {path}, which is not writable ({type(exc).__name__}): "
            "fix its owner or set INSTANCE_PATH"
        )
    if existing != path:
        return True, f"{prefix} {path} (it will be created)"
    return True, f"{prefix} {path} (writable)"


# -- modes ----------------------------------------------------------------------------


def check_simulator(app):
    mounted = bool(app.config.get("ZOOM_SIMULATOR")) or "zoom_sim" in app.blueprints
    if mounted and app.config.get("ZOOM_CLIENT_ID"):
        return [
            (
                False,
                "ZOOM_SIMULATOR is on while ZOOM_CLIENT_ID is set: "
                "remove ZOOM_SIMULATOR so tutors reach the real Zoom",
            )
        ]
    if mounted and not app.debug:
        return [
            (
                True,
                "ZOOM_SIMULATOR is on: the portal is in demo mode with a simulated Zoom "
                "at /zoom-sim (not for real tutoring)",
            )
        ]
    if mounted:
        return [(True, "ZOOM_SIMULATOR is on (development)")]
    return [(True, "ZOOM_SIMULATOR is off")]


def check_trusted_proxies(app, environ):
    raw = (environ.get("TRUSTED_PROXIES") or "").strip()  # empty means the default, as in config
    value = raw or app.config.get("TRUSTED_PROXIES") or 0
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 0 or isinstance(value, float):
        return [(False, f"TRUSTED_PROXIES must be a whole number, 0 or more, not {value!r}")]
    if count == 0:
        return [(True, "TRUSTED_PROXIES is 0: X-Forwarded-* headers are not trusted")]
    return [
        (
            True,
            f"TRUSTED_PROXIES is {count}: X-Forwarded-* headers from "
            f"{count} prox{'y' if count == 1 else 'ies'} in front are trusted",
        )
    ]


def check_start_up(app):
    """Would the portal start in production with these settings (config.check_production)?"""
    if app.debug:
        return [
            (
                True,
                "FLASK_DEBUG is on: development mode (generated keys, plain-http cookies), "
                "never on a server",
            )
        ]
    try:
        check_production(app.config)
    except ConfigError as exc:
        return [(False, f"the portal refuses to start in production: {exc}")]
    return [(True, "the production start-up check passes")]


def _s(count):
    return "" if count == 1 else "s"
