"""Authorize with Zoom and come back: /zoom/connect, /zoom/callback, /zoom/disconnect.

The callback checks the one-time state itself (portal.zoom.oauth), then reads the
Zoom profile and decides before storing anything (portal.connections). It answers
with a 303 to a clean URL, so the code and state never sit in the address bar.
"""

import logging

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from .. import connections, daily
from ..models import ZoomConnection
from ..rendering import render, wants_partial
from ..security import same_site_navigation
from ..zoom.errors import ZoomConfigError
from ..zoom.oauth import start_authorization
from ..zoom.wiring import gateway
from .views import bp, panel_context

log = logging.getLogger("portal.connect")


def _problem(title, message, status):
    return render_template("errors/page.html", title=title, message=message), status


@bp.route("/zoom/connect", methods=["GET", "POST"])
def connect_zoom():
    """Remember a one-time state and PKCE verifier, then send the tutor to Zoom.

    Authorize is a link (GET): a form POST answered with a redirect to Zoom falls under
    the page's CSP form-action in Chromium. A GET from another site is refused, and the
    callback's state and PKCE checks stop any flow this browser did not start here.
    """
    if current_user.home_center() is None:
        abort(404)
    if request.method == "GET" and not same_site_navigation():
        abort(403)
    try:
        url = start_authorization(session, gateway().settings)
    except ZoomConfigError:
        log.error("Zoom OAuth is not configured")
        return _problem(
            "Zoom is not set up",
            "The portal's Zoom settings are incomplete. Tell your administrator.",
            503,
        )
    if wants_partial():
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


@bp.route("/zoom/callback")
def zoom_callback():
    """Zoom sends the tutor back here with code and state (or an error)."""
    outcome = connections.finish_connect(
        current_user,
        _args(),
        session,
        gateway(),
        center=current_user.home_center(),
    )
    if outcome.kind in PROBLEMS:
        return _problem(*PROBLEMS[outcome.kind], outcome.status)
    if outcome.kind == "denied":
        flash("The Zoom authorization was cancelled. Nothing was connected.", "warning")
    elif outcome.kind == "refused":
        flash(outcome.message, "error")
    else:
        _flash_connected(outcome)
    return redirect(url_for("tutor.preferences"), 303)


PROBLEMS = {
    "invalid_state": (
        "This authorization is no longer valid",
        "It was already used, started in another browser, or expired. Go back to "
        "Preferences → Virtual Meetings and press Authorize again.",
    ),
    "failed": (
        "Zoom could not be connected",
        "Zoom did not complete the authorization. Go back to Preferences and press "
        "Authorize again; if it keeps failing, tell your center administrator.",
    ),
    "no_profile": (
        "Zoom could not be connected",
        "Zoom did not tell us which account signed in. Press Authorize again in a minute.",
    ),
}


def _flash_connected(outcome):
    if outcome.warning:
        flash(outcome.warning, "warning")
    else:
        flash(f"Your Zoom account {outcome.email} is connected.", "success")
    if outcome.replacement is not None:
        flash(
            f"Today's Daily Session {daily.format_meeting_number(outcome.retired.zoom_meeting_id)} "
            "belonged to the Zoom account you used before, so the portal created a new one "
            "for this account: "
            f"{daily.format_meeting_number(outcome.replacement.zoom_meeting_id)}. "
            "Students are sent there from now on.",
            "warning",
        )


def _args():
    """The callback's query, with absurd sizes cut off before anything reads them."""
    return {k: v[:2048] for k, v in request.args.items() if len(k) < 64}


@bp.route("/zoom/disconnect", methods=["POST"])
def disconnect_zoom():
    """Revoke at Zoom, delete the tokens even if that fails, end the connection."""
    if ZoomConnection.for_tutor(current_user) is None:
        flash("No Zoom account is connected.", "warning")
        return redirect(url_for("tutor.preferences"), 303)
    zoom = gateway()
    _connection, revoked = connections.disconnect(
        current_user, zoom.settings, zoom.http(), center=current_user.home_center()
    )
    message = "Your Zoom account is disconnected."
    if not revoked:
        message += " Zoom could not be reached to confirm; the portal will retry."
    if wants_partial():
        response = render(
            "tutor/partials/vm_panel.html", notice=message, **panel_context(current_user)
        )
        return response
    flash(message, "success" if revoked else "warning")
    return redirect(url_for("tutor.preferences"), 303)
