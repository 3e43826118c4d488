"""Virtual Meetings Portal: create_app() is the only place wiring happens."""

import logging
import os
import secrets

from cryptography.fernet import Fernet
from flask import Flask, g, render_template, request, session
from flask.helpers import get_debug_flag
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from peewee import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from . import db as dbmod
from . import inputs, jobs, labels, timefmt
from .account import bp as account_bp
from .admin import bp as admin_bp
from .auth.views import bp as auth_bp
from .cli import register_cli
from .config import ConfigError, ProductionConfig, config_class
from .dev import bp as dev_bp
from .logging_setup import configure_logging
from .main import bp as main_bp
from .models import User
from .notifications import register as register_notifications
from .security import content_security_policy, refuse_cross_site, set_security_headers
from .sessions import DatabaseSessionInterface, session_user
from .student import bp as student_bp
from .tutor import bp as tutor_bp
from .webhooks import register as register_webhooks
from .zoom import wiring as zoom_wiring
from .zoom.simulator import register_simulator

csrf = CSRFProtect()
login_manager = LoginManager()
htmx = Htmx()

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(config=None, serving=True):
    """Build the portal: config, database, security, blueprints, CLI.

    ``config``: settings over the environment's, a mapping or a ``Config`` subclass (whose
    class attributes are the defaults). ``serving``: false for an entry point that serves
    no requests (the ``flask`` command line), where a missing secret is only a warning,
    so that ``init-db`` and ``doctor`` still run.
    """
    if isinstance(config, type):
        base, config = config, {}
    else:
        config = dict(config or {})
        base = config_class(config.get("DEBUG", get_debug_flag()), config.get("TESTING"))
    settings = base.from_env()
    settings.update(config)
    app = Flask(
        __name__,
        instance_path=os.path.abspath(
            settings.get("INSTANCE_PATH") or os.path.join(PROJECT_ROOT, "instance")
        ),
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
        static_folder=os.path.join(PROJECT_ROOT, "static"),
    )
    app.config.update(settings)
    production = base is ProductionConfig
    if app.config.get("ZOOM_SIMULATOR") is None:
        # Development falls back to the simulator; production only mounts it when asked.
        app.config["ZOOM_SIMULATOR"] = not production and not app.config.get("ZOOM_CLIENT_ID")
    if app.config.get("ZOOM_CLIENT_ID"):
        app.config["ZOOM_SIMULATOR"] = False  # never mount the fake next to real Zoom
    _development_secrets(app, production)
    if production:
        try:
            ProductionConfig.check(app.config)
        except ConfigError as exc:
            if serving:
                raise
            # Commands such as init-db serve no requests and need no secret.
            logging.getLogger("portal").warning("%s (ignored for this command)", exc)

    configure_logging(app)
    if app.config.get("TRUSTED_PROXIES"):
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _init_database(app, production)
    dbmod.verify_sqlite_settings()  # refuse to serve unless WAL, FKs, busy_timeout took

    app.session_interface = DatabaseSessionInterface()
    csrf.init_app(app)
    htmx.init_app(app)
    _init_login(app)

    inputs.install(app)  # ids that fit a 64-bit key, no NUL anywhere (before blueprints)
    app.before_request(refuse_cross_site)
    app.after_request(set_security_headers)
    _register_blueprints(app)  # the simulator, when mounted, sets ZOOM_OAUTH_BASE_URL
    zoom_wiring.install(app)  # the one Zoom gateway: settings, HTTP, breaker, budget
    jobs.install(app)  # how its huey is built, on first use
    app.extensions["csp"] = content_security_policy(app.config.get("ZOOM_OAUTH_BASE_URL"))
    _register_errors(app)
    register_cli(app)
    return app


def _development_secrets(app, production):
    """Outside production, fill SECRET_KEY / TOKEN_ENCRYPTION_KEYS from the instance folder."""
    if production:
        return
    if not app.config.get("SECRET_KEY"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "dev-secret-key")
        if not os.path.exists(path):
            with open(path, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            os.chmod(path, 0o600)
        with open(path) as fh:
            app.config["SECRET_KEY"] = fh.read().strip()
    if not app.config.get("TOKEN_ENCRYPTION_KEYS"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "dev-token-key")
        if not os.path.exists(path):
            with open(path, "w") as fh:
                fh.write(Fernet.generate_key().decode())
            os.chmod(path, 0o600)
        with open(path) as fh:
            app.config["TOKEN_ENCRYPTION_KEYS"] = fh.read().strip()


def _init_database(app, production):
    url = app.config.get("DATABASE_URL")
    if not url:
        url = "sqlite:///" + os.path.join(app.instance_path, "portal.db")
        app.config["DATABASE_URL"] = url
    try:
        database = dbmod.make_database(url, app.config.get("SQLITE_SYNCHRONOUS") or "full")
    except dbmod.DatabaseConfigError as exc:
        raise ConfigError(str(exc)) from None
    previous = dbmod.database.obj
    if previous is not None and hasattr(previous, "close_all"):
        previous.close_all()  # another app in this process (tests): free its pool
    dbmod.database.initialize(database)
    if dbmod.is_sqlite() and dbmod.sqlite_runtime_version() < app.config["SQLITE_MIN_VERSION"]:
        raise ConfigError(
            "SQLite is older than 3.51.3 (WAL-reset bug): reinstall with `make install`."
        )

    # No connect before the request: peewee takes a pooled connection on the first query
    # (autoconnect), so a request that needs none (/healthz, static files) costs nothing.
    @app.teardown_request
    def _close(exc):
        if not dbmod.database.is_closed():
            dbmod.database.close()


def _init_login(app):
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id):
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            return None
        user = session_user(session, user_id) or User.get_or_none(User.id == user_id)
        if user is None or not user.active:
            return None
        if session.get("session_version") != user.session_version:
            return None
        return user


def _register_blueprints(app):
    """Mount one blueprint per audience; each gives its full paths, so URLs read as before."""
    labels.install(app)  # kind, status and role labels for every template
    timefmt.install(app)  # |when, |span, |day: the one way a time reads
    app.register_blueprint(main_bp)  # /, /home, /help, /healthz, /calendar/tutor.ics
    app.register_blueprint(auth_bp)  # /login, /logout
    app.register_blueprint(admin_bp)  # /admin/..., /live/
    app.register_blueprint(tutor_bp)  # /tutor/..., /zoom/connect, /zoom/callback, /zoom/disconnect
    app.register_blueprint(student_bp)  # /student/..., /join/...
    app.register_blueprint(account_bp)  # /notifications/... (students and tutors)
    register_webhooks(app, csrf)  # POST /webhooks/zoom, the one CSRF-exempt view
    if register_notifications(app).development:  # a malformed MAIL_URL stops the start here
        app.register_blueprint(dev_bp)  # /dev/outbox/..., never in production
    if app.config["ZOOM_SIMULATOR"]:
        register_simulator(app, csrf)


def _register_errors(app):
    log = logging.getLogger("portal.errors")

    def render_error(status, title, message):
        template = "errors/partial.html" if request.htmx else "errors/page.html"
        return render_template(template, status=status, title=title, message=message), status

    @app.errorhandler(400)
    def bad_request(exc):
        return render_error(
            400, "Bad request", "The request could not be understood. Go back and try again."
        )

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(
            400,
            "Your session expired",
            "This page was open too long or the form came from elsewhere. "
            "Reload the page and try again.",
        )

    @app.errorhandler(403)
    def forbidden(exc):
        return render_error(
            403, "Not allowed", "Your account cannot open this page. Go back to your home page."
        )

    @app.errorhandler(404)
    def not_found(exc):
        return render_error(
            404,
            "Not found",
            "There is nothing here. Check the address or go back to your home page.",
        )

    @app.errorhandler(405)
    def not_allowed(exc):
        return render_error(
            405,
            "Not allowed",
            "That action cannot be done this way. Go back and use the page's buttons.",
        )

    @app.errorhandler(413)
    def too_large(exc):
        return render_error(
            413, "Too much data", "What you sent is too large. Shorten it and try again."
        )

    @app.errorhandler(429)
    def throttled(exc):
        return render_error(429, "Too many attempts", "Wait a minute, then try again.")

    @app.errorhandler(OperationalError)
    def db_busy(exc):
        log.warning("database busy on %s %s", request.method, request.path)
        response = render_error(
            503, "Busy", "The portal is busy right now. Try again in a few seconds."
        )
        return response[0], 503, {"Retry-After": "2"}

    @app.errorhandler(500)
    def server_error(exc):
        return render_error(
            500, "Something went wrong", "The problem has been logged. Try again in a moment."
        )

    @app.context_processor
    def inject_globals():
        return {"simulator_enabled": app.config.get("ZOOM_SIMULATOR"), "g": g}
