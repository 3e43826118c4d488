"""Login and logout. Both are CSRF-protected POSTs; login starts a brand-new session."""

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from ..accounts import LoginThrottled, authenticate
from ..security import safe_next
from .throttle import DEVICE_PREFIX, device_cookie_value

bp = Blueprint("auth", __name__)


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
