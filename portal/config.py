"""Settings from the environment, with safe defaults, checked at start (DESIGN §8)."""

import os
from datetime import timedelta


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names it."""


def _flag(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Numeric settings that may come from the environment, with their types.
NUMERIC_SETTINGS = {
    "ZOOM_WEBHOOK_TOLERANCE_SECONDS": int,
    "HEALTH_SCAN_CONCURRENCY": int,
    "HEALTH_ZOOM_RATE": float,
    "HEALTH_ZOOM_BURST": int,
    "HEALTH_RECHECK_SECONDS": float,
    "HEALTH_RECENT_HOURS": int,
    "HEALTH_MAX_PAUSE_SECONDS": float,
    "HEALTH_SCAN_BATCH_SIZE": int,
    "HEALTH_SCAN_LEASE_SECONDS": float,
    "HEALTH_SCAN_HEARTBEAT_SECONDS": float,
    "PROVISION_BATCH_SIZE": int,
    "ZOOM_REQUEST_BUDGET_SECONDS": float,
    "BACKUP_KEEP": int,
    "BACKUP_EVERY_HOURS": int,
    "REMINDER_MINUTES_BEFORE": int,
    "SHIFT_CHECK_MINUTES_BEFORE": int,
}


class Config:
    """Defaults; every value can come from the environment of the same name."""

    SECRET_KEY = ""  # development generates one in the instance folder
    DATABASE_URL = None  # sqlite in the instance folder when unset
    ZOOM_CLIENT_ID = ""
    ZOOM_CLIENT_SECRET = ""
    ZOOM_REDIRECT_URI = ""
    ZOOM_OAUTH_BASE_URL = "https://zoom.us"
    ZOOM_API_BASE_URL = "https://api.zoom.us/v2"
    ZOOM_WEBHOOK_SECRET_TOKEN = ""
    TOKEN_ENCRYPTION_KEYS = ""
    HUEY_REDIS_URL = ""
    # Shared state of several processes (the Zoom rate budget per account): this Redis,
    # else HUEY_REDIS_URL's; neither = each process keeps its own. Keys start with the prefix.
    REDIS_URL = ""
    REDIS_KEY_PREFIX = "vmp:"
    # Mount the built-in Zoom simulator: by default in development when no real client id
    # is set; outside development only when asked for (ZOOM_SIMULATOR=1, a demo).
    ZOOM_SIMULATOR = None
    # How many reverse proxies in front set X-Forwarded-* (Werkzeug's ProxyFix); 0 = none.
    TRUSTED_PROXIES = 0
    # Folder for the SQLite job queue and development keys (default: ./instance).
    INSTANCE_PATH = ""
    # All the Zoom time one web request may spend (calls, retries, waits): well under
    # gunicorn's 30 s worker timeout. Join and Start hand slower work to a job.
    ZOOM_REQUEST_BUDGET_SECONDS = 8.0
    # SQLite: "full" (every commit synced) or "normal" (WAL: safe from process crashes).
    SQLITE_SYNCHRONOUS = "full"
    # E-mail (portal.mail, portal.notifications): smtp://[user:pass@]host:port (STARTTLS
    # where offered) or smtps://… (implicit TLS); empty = development outbox page only.
    MAIL_URL = ""
    MAIL_FROM = ""
    # The portal's external address: every link in an e-mail or the calendar feed.
    PUBLIC_BASE_URL = ""
    REMINDER_MINUTES_BEFORE = 60
    SHIFT_CHECK_MINUTES_BEFORE = 30

    # Sessions live server-side (portal.sessions); the cookie only names them.
    SESSION_COOKIE_NAME = "__Host-session"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_IDLE_TIMEOUT = timedelta(hours=2)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    REMEMBER_COOKIE_NAME = "__Host-remember"
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "https"

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the server-side session
    WTF_CSRF_SSL_STRICT = True
    MAX_CONTENT_LENGTH = 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 64 * 1024

    LOGIN_ATTEMPTS_PER_MINUTE = 5
    LOGIN_ATTEMPTS_PER_HOUR = 20
    # Those two count per account *and client* (address, or device cookie): portal.auth.throttle.
    LOGIN_ATTEMPTS_PER_ACCOUNT_HOUR = 100  # failures over all addresses, then 429 for strangers
    LOGIN_ADDRESS_FAILURES_PER_HOUR = 60  # then that address is slowed down, never refused
    LOGIN_ADDRESS_MAX_DELAY = 2.0  # seconds
    LOGIN_DEVICE_COOKIE_NAME = "__Host-login-device"
    # Scheduled backups (portal.backup): off while BACKUP_DIR is empty.
    BACKUP_DIR = ""
    BACKUP_KEEP = 28  # newest backups kept in BACKUP_DIR (a week at the default interval)
    BACKUP_EVERY_HOURS = 6
    # SQLite older than 3.51.3 has the WAL-reset bug; cysqlite bundles a newer one.
    SQLITE_MIN_VERSION = (3, 51, 3)

    @classmethod
    def from_env(cls):
        """Return a dict of settings: class defaults overridden by the environment."""
        settings = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
        for key in (
            "SECRET_KEY",
            "DATABASE_URL",
            "ZOOM_CLIENT_ID",
            "ZOOM_CLIENT_SECRET",
            "ZOOM_REDIRECT_URI",
            "ZOOM_OAUTH_BASE_URL",
            "ZOOM_API_BASE_URL",
            "ZOOM_WEBHOOK_SECRET_TOKEN",
            "TOKEN_ENCRYPTION_KEYS",
            "HUEY_REDIS_URL",
            "REDIS_URL",
            "REDIS_KEY_PREFIX",
            "ZOOM_SIM_BASE_URL",
            "WEBHOOK_PROCESSING",
            "INSTANCE_PATH",
            "BACKUP_DIR",
            "MAIL_URL",
            "MAIL_FROM",
            "PUBLIC_BASE_URL",
            "MAIL_DELIVERY",
        ):
            if os.environ.get(key):
                settings[key] = os.environ[key]
        if os.environ.get("HEALTH_SCAN_RUNNER"):
            settings["HEALTH_SCAN_RUNNER"] = os.environ["HEALTH_SCAN_RUNNER"]
        for key, kind in NUMERIC_SETTINGS.items():
            raw = os.environ.get(key)
            if raw:
                try:
                    value = kind(raw)
                except ValueError:
                    raise ConfigError(f"{key} must be a number, not {raw!r}.") from None
                if value <= 0:
                    raise ConfigError(f"{key} must be greater than zero.")
                settings[key] = value
        if os.environ.get("ZOOM_SIMULATOR") is not None:
            settings["ZOOM_SIMULATOR"] = _flag("ZOOM_SIMULATOR")
        raw = os.environ.get("TRUSTED_PROXIES")
        if raw:
            try:
                settings["TRUSTED_PROXIES"] = int(raw)
            except ValueError:
                raise ConfigError(f"TRUSTED_PROXIES must be a whole number, not {raw!r}.") from None
            if settings["TRUSTED_PROXIES"] < 0:
                raise ConfigError("TRUSTED_PROXIES must be 0 or more.")
        if os.environ.get("SESSION_COOKIE_SECURE") is not None:
            settings["SESSION_COOKIE_SECURE"] = _flag("SESSION_COOKIE_SECURE")
        return settings


class DevelopmentConfig(Config):
    """`make run` (FLASK_DEBUG=1): plain-http cookies on localhost, keys in the instance folder."""

    SESSION_COOKIE_NAME = "vmp_session"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_NAME = "vmp_remember"
    LOGIN_DEVICE_COOKIE_NAME = "vmp_login_device"
    REMEMBER_COOKIE_SECURE = False
    PREFERRED_URL_SCHEME = "http"
    WTF_CSRF_SSL_STRICT = False


class TestingConfig(DevelopmentConfig):
    """The test suite's base: what development relaxes, with Flask's TESTING on."""

    TESTING = True


class ProductionConfig(Config):
    """gunicorn: every secret given, Secure cookies; ``check`` refuses anything less."""

    @staticmethod
    def check(config):
        check_production(config)


def config_class(debug, testing):
    """The config class for how the app runs."""
    if testing:
        return TestingConfig
    return DevelopmentConfig if debug else ProductionConfig


def check_production(config):
    """Refuse to start a production app with a missing or unsafe setting."""
    if not config.get("SECRET_KEY"):
        raise ConfigError("SECRET_KEY is missing: set it to a long random value.")
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY is too short: use at least 32 random characters.")
    if not config.get("TOKEN_ENCRYPTION_KEYS"):
        raise ConfigError(
            "TOKEN_ENCRYPTION_KEYS is missing: set one or more comma-separated Fernet keys."
        )
    if not config.get("ZOOM_CLIENT_ID") and not config.get("ZOOM_SIMULATOR"):
        raise ConfigError(
            "ZOOM_CLIENT_ID is missing: set your Zoom app's credentials "
            "(or ZOOM_SIMULATOR=1 for a demo with a simulated Zoom)."
        )
    if config.get("ZOOM_CLIENT_ID"):
        for key in ("ZOOM_CLIENT_SECRET", "ZOOM_REDIRECT_URI", "ZOOM_WEBHOOK_SECRET_TOKEN"):
            if not config.get(key):
                raise ConfigError(f"{key} is missing: it is needed when ZOOM_CLIENT_ID is set.")
    if not config.get("SESSION_COOKIE_SECURE"):
        raise ConfigError("SESSION_COOKIE_SECURE is off: production cookies must be Secure.")
