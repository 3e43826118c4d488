"""Login and logout. Both are CSRF-protected POSTs; login starts a brand-new session."""

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..accounts import LoginThrottled, authenticate
from ..security import safe_next
from . import bp


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
    limits = (
        current_app.config["LOGIN_ATTEMPTS_PER_MINUTE"],
        current_app.config["LOGIN_ATTEMPTS_PER_HOUR"],
    )
    try:
        user = authenticate(email, password, request.remote_addr, limits)
    except LoginThrottled:
        return _failed(
            "Too many failed attempts. Wait a minute, then try again.", email, next_url, 429
        )
    if user is None:
        return _failed("That e-mail address and password do not match.", email, next_url, 401)
    # Fixation: nothing from the anonymous session survives, and the id changes.
    session.clear()
    session.regenerate()
    session["session_version"] = user.session_version
    login_user(user)
    return redirect(safe_next(next_url, home_for(user)), 303)


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
