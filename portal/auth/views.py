"""Login and logout. Both are CSRF-protected POSTs; login starts a brand-new session."""

import logging

from flask import (
    Blueprint,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from .. import accounts
from ..accounts import LoginThrottled, authenticate
from ..db import database
from ..models import PasswordToken
from ..notifications import outbox
from ..security import safe_next
from ..validation import ValidationError
from . import password_links
from .throttle import DEVICE_PREFIX, device_cookie_value

bp = Blueprint("auth", __name__)
log = logging.getLogger("portal.auth")


def home_for(user):
    """Where a user lands after login."""
    if user.role in ("center_admin", "account_admin"):
        return url_for("admin.centers")
    if user.role == "tutor":
        return url_for("tutor.preferences")
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on POST check credentials and start a fresh session."""
    next_url = request.values.get("next", "")
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(next_url, home_for(current_user)))
        return render_template("auth/login.html", next_url=next_url, email="")
    email = request.form.get("email", "")[:254]
    password = request.form.get("password", "")[:1024]
    if not email.strip() or not password:
        return _failed("Enter your e-mail address and password.", email, next_url, 400)
    config = current_app.config
    device = request.cookies.get(config["LOGIN_DEVICE_COOKIE_NAME"])
    try:
        user, client = authenticate(email, password, request.remote_addr, config, device)
    except LoginThrottled:
        response = _failed(
            "Too many failed attempts. Wait a minute, then try again.", email, next_url, 429
        )
        return response[0], 429, {"Retry-After": "60"}
    if user is None:
        return _failed("That e-mail address and password do not match.", email, next_url, 401)
    _start_session(user)
    response = redirect(safe_next(next_url, home_for(user)), 303)
    if not client.startswith(DEVICE_PREFIX):
        _remember_device(response, config, user)
    return response


def _start_session(user):
    """Log the user in on a brand-new session."""
    # Fixation: nothing from the anonymous session survives, and the id changes.
    session.clear()
    session.regenerate()
    session["session_version"] = user.session_version
    login_user(user)


def _remember_device(response, config, user):
    """This browser is now known for this account: its attempts count apart from strangers'."""
    response.set_cookie(
        config["LOGIN_DEVICE_COOKIE_NAME"],
        device_cookie_value(config, user.email),
        max_age=180 * 24 * 3600,
        secure=config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
        path="/",
    )


def _failed(message, email, next_url, status):
    return (
        render_template("auth/login.html", error=message, email=email, next_url=next_url),
        status,
    )


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End the session on the server, so a copied cookie stops working too."""
    logout_user()
    session.clear()
    session.regenerate()
    flash("You have logged out.", "success")
    return redirect(url_for("auth.login"), 303)


# --- passwords ------------------------------------------------------------------------

SENT = (
    "If an account uses that e-mail address, a link to set a new password is on its way. "
    "It works once, for 1 hour. Check your spam folder if it does not arrive in a few minutes."
)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    """Ask for a password link by e-mail; the answer never tells whether the e-mail exists."""
    if request.method == "GET":
        return render_template("auth/forgot.html", email="")
    email = request.form.get("email", "")[:254]
    if not email.strip():
        return render_template(
            "auth/forgot.html", email="", error="Enter your e-mail address."
        ), 400
    try:
        accounts.reserve_reset_request(email, request.remote_addr, current_app.config)
    except LoginThrottled:
        return (
            render_template(
                "auth/forgot.html",
                email=email,
                error="Too many requests. Wait a minute, then try again.",
            ),
            429,
            {"Retry-After": "60"},
        )
    app = current_app._get_current_object()

    @after_this_request
    def _later(response):
        # After the answer has gone: whether a link is made never shows in its timing.
        response.call_on_close(lambda: _issue_reset(app, email))
        return response

    return render_template("auth/forgot.html", email="", sent=SENT)


def _issue_reset(app, email):
    with app.app_context(), database.connection_context():
        try:
            if accounts.issue_password_reset(email, app.config):
                outbox.wake(app)
        except Exception:  # noqa: BLE001 - the answer is already sent; nothing to show
            log.exception("a password reset link could not be made")


def _no_store(response_tuple):
    body, status = response_tuple
    # the address holds the token: not cached, and not sent on as a Referer (a proxy's log)
    return body, status, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _link_page(token):
    try:
        link, user = password_links.find(token)
    except password_links.LinkInvalid:
        return _no_store((render_template("auth/link_invalid.html"), 400))
    invite = link.purpose == PasswordToken.INVITE
    page = render_template("auth/set_password.html", token=token, user=user, invite=invite)
    return _no_store((page, 200))


@bp.route("/password/set")
def set_password():
    """The page a password link opens (``?token=``): choose a password."""
    return _link_page(request.args.get("token", "")[: password_links.MAX_TOKEN + 1])


@bp.route("/password/set", methods=["POST"])
def save_password():
    """Set the password through the link, once; every session of the user ends."""
    token = request.form.get("token", "")[: password_links.MAX_TOKEN + 1]
    password = request.form.get("password", "")[:1024]
    confirm = request.form.get("confirm", "")[:1024]
    try:
        link, user = password_links.find(token)
    except password_links.LinkInvalid:
        return _no_store((render_template("auth/link_invalid.html"), 400))
    invite = link.purpose == PasswordToken.INVITE
    problem = None
    if password != confirm:
        problem = "The two passwords are not the same. Type them again."
    if problem is None:
        try:
            _saved, problem = password_links.use(token, password)
        except password_links.LinkInvalid:
            return _no_store((render_template("auth/link_invalid.html"), 400))
    if problem:
        page = render_template(
            "auth/set_password.html", token=token, user=user, invite=invite, error=problem
        )
        return _no_store((page, 400))
    logout_user()
    session.clear()
    session.regenerate()
    flash("Your password is set. Log in with your e-mail address and the new password.", "success")
    return redirect(url_for("auth.login"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (the current one first); other sessions are logged out."""
    if request.method == "GET":
        return render_template("auth/change_password.html")
    try:
        user = accounts.change_password(
            current_user,
            request.form.get("current", "")[:1024],
            request.form.get("password", "")[:1024],
            request.form.get("confirm", "")[:1024],
        )
    except ValidationError as exc:
        return render_template("auth/change_password.html", error=str(exc)), 400
    _start_session(user)  # this browser stays logged in, on a fresh session
    flash("Your password is changed. Every other browser was logged out.", "success")
    return redirect(url_for("auth.change_password"), 303)
