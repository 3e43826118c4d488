"""The "Zoom simulator" control page: `GET /` shows users, tokens (state only, never values),
meetings, fault switches and webhook deliveries; `POST /control/<action>` flips one switch and
answers 303 back to the page (400 with the page and a message when the input is wrong).
`GET /control/stats` answers what the simulator has been asked so far as JSON and
`POST /control/stats/reset` zeroes it (see `stats.py` for the shape).

These forms are exempt from CSRF (the whole blueprint is): this is a development tool that is
only mounted when no real Zoom client id is configured. The portal's Fetch-Metadata check still
refuses cross-site POSTs.
"""

from datetime import timedelta

from flask import current_app, redirect, render_template, request, url_for

from .blueprint import bp, get_state, json_response
from .errors import ZoomError
from .faults import DROP_MODES, FAIL_BODIES, FAIL_SCOPES, WEBHOOK_FAULTS
from .users import LOGIN_TYPES, USER_TYPES

ACTIONS = {}


def action(name, label):
    """Register a control action: `view(state, form) -> message`."""

    def decorator(func):
        ACTIONS[name] = (func, label)
        return func

    return decorator


def _int(form, name, default=None):
    value = form.get(name, "")
    if value == "" and default is not None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number") from None


@action("advance_clock", "Advance the clock")
def _advance(state, form):
    minutes = _int(form, "minutes", 0) + 60 * _int(form, "hours", 0) + 1440 * _int(form, "days", 0)
    if minutes <= 0:
        raise ValueError("advance by a positive amount")
    now = state.advance(minutes=minutes)
    return f"Clock is now {now:%Y-%m-%d %H:%M} UTC."


@action("revoke_tokens", "Revoke tokens")
def _revoke(state, form):
    count = state.revoke_user_tokens(form["user"], notify=form.get("notify") == "1")
    return f"Revoked {count} token pair(s)."


@action("expire_access_tokens", "Expire access tokens")
def _expire_tokens(state, form):
    state.expire_access_tokens(form["user"])
    return "Access tokens expired; refresh tokens still work."


@action("set_user_type", "Change licence")
def _user_type(state, form):
    state.set_user_type(form["user"], _int(form, "user_type"))
    return "Licence changed."


@action("set_login_method", "Switch login method")
def _login(state, form):
    state.set_login_method(form["user"], [_int(form, "login_type")])
    return "Login method switched."


@action("delete_user", "Delete user")
def _delete_user(state, form):
    state.delete_user(form["user"])
    return "User deleted from Zoom."


@action("create_daily_session", "Create a Daily Session in Zoom")
def _daily(state, form):
    meeting = state.create_daily_session(form["user"], topic=form.get("topic") or "Daily Session")
    return f"Created meeting {meeting.id} directly in Zoom."


@action("delete_meeting", "Delete meeting in Zoom")
def _delete_meeting(state, form):
    meeting = state.zoom_delete_meeting(_int(form, "meeting"), notify=form.get("notify") == "1")
    return f"Deleted meeting {meeting.id} behind the portal's back."


@action("expire_meeting", "Expire meeting")
def _expire(state, form):
    state.expire_meeting(_int(form, "meeting"))
    return "Meeting expired (3001 from now on)."


@action("start_meeting", "Start meeting")
def _start(state, form):
    state.start_meeting(_int(form, "meeting"))
    return "Meeting started."


@action("end_meeting", "End meeting")
def _end(state, form):
    state.end_meeting(_int(form, "meeting"))
    return "Meeting ended."


@action("participant", "Participant")
def _participant(state, form):
    meeting = _int(form, "meeting")
    step = form.get("step")
    name = form.get("name") or "Student"
    if step == "waiting":
        return f"Participant {state.participant_waiting(meeting, name)} is in the waiting room."
    if step == "join":
        return f"Participant {state.join_participant(meeting, name)} joined."
    if step == "admit":
        return f"Participant {state.admit_participant(meeting, form['participant'])} admitted."
    if step == "leave":
        return f"Participant {state.leave_participant(meeting, form['participant'])} left."
    raise ValueError("step must be waiting, join, admit or leave")


@action("latency", "Set latency")
def _latency(state, form):
    state.set_latency(_int(form, "milliseconds", 0) / 1000)
    return "Latency set."


@action("fail_next", "Fail next calls")
def _fail(state, form):
    state.fail_next(
        _int(form, "count", 1),
        _int(form, "status", 500),
        form.get("body", "json"),
        form.get("scope", "api"),
    )
    return "Failures armed."


@action("drop_refresh", "Drop next refresh answer")
def _drop(state, form):
    state.drop_next_refresh(form.get("mode", "500"))
    return "The next refresh will rotate and lose its answer."


@action("webhook_fault", "Corrupt next webhook")
def _webhook_fault(state, form):
    state.corrupt_next_webhook(form.get("kind", "bad_signature"))
    return "The next webhook delivery will be corrupted."


@action("localize_errors", "Localize error messages")
def _localize(state, form):
    state.localize_errors(form.get("on") == "1")
    return "Error messages switched."


@action("reset_faults", "Reset faults")
def _reset(state, form):
    state.reset_faults()
    return "All fault switches off."


@action("validate_webhook", "Validate endpoint")
def _validate(state, form):
    valid = state.webhooks.validate_endpoint()
    return "Endpoint passed URL validation." if valid else "Endpoint failed URL validation."


@action("retry_webhooks", "Retry due deliveries")
def _retry(state, form):
    return f"Retried {len(state.webhooks.retry_due())} delivery(ies)."


@action("redeliver", "Deliver again")
def _redeliver(state, form):
    state.webhooks.redeliver(_int(form, "delivery"))
    return "Delivered again (duplicate)."


@action("pause_webhooks", "Hold deliveries")
def _pause(state, form):
    state.webhooks.pause()
    return "New deliveries are held."


@action("release_webhooks", "Release held deliveries")
def _release(state, form):
    held = state.webhooks.release(reverse=form.get("order") == "reverse")
    return f"Released {len(held)} delivery(ies)."


def _page(state, message=None, error=None, status=200):
    now = state.now()
    with state.lock:
        users = [
            {
                "user": user,
                "tokens": state.token_summary(user),
                "quota": state.limiter.user_quota_used(user.id, now),
                "meetings": [
                    {"meeting": m, "gone": state.meeting_gone(m)}
                    for m in state.meetings_of(user.id, include_gone=True)
                ],
            }
            for user in state.users.values()
        ]
        deliveries = list(reversed(state.webhooks.deliveries[-20:]))
        html = render_template(
            "zoom_sim/control.html",
            state=state,
            now=now,
            offset=state._offset,
            users=users,
            faults=state.faults,
            deliveries=deliveries,
            webhooks=state.webhooks,
            login_types=LOGIN_TYPES,
            user_types=USER_TYPES,
            fail_bodies=FAIL_BODIES,
            fail_scopes=FAIL_SCOPES,
            drop_modes=DROP_MODES,
            webhook_faults=WEBHOOK_FAULTS,
            message=message,
            error=error,
            timedelta=timedelta,
        )
    return current_app.response_class(html, status=status, mimetype="text/html")


@bp.route("/", methods=["GET"])
def control_page():
    """Show the simulator's state and switches."""
    state = get_state()
    done = request.args.get("done")
    return _page(state, message=done if done in _messages() else None)


def _messages():
    return {label for _, label in ACTIONS.values()}


@bp.route("/control/<name>", methods=["POST"])
def control_action(name):
    """Run one control action, then go back to the page (303)."""
    state = get_state()
    if name not in ACTIONS:
        return _page(state, error="Unknown action.", status=404)
    func, label = ACTIONS[name]
    try:
        func(state, request.form)
    except (KeyError, ValueError, ZoomError) as exc:
        return _page(state, error=f"{label}: {exc}", status=400)
    return redirect(url_for(".control_page", done=label), 303)


@bp.route("/control/stats", methods=["GET"])
def control_stats():
    """Requests per Zoom account (total, peak per second, 429s) and token calls, as JSON."""
    state = get_state()
    with state.lock:
        data = state.stats.as_dict()
    return json_response(data, headers={"Cache-Control": "no-store"})


@bp.route("/control/stats/reset", methods=["POST"])
def control_stats_reset():
    """Zero every counter; answers the (empty) stats."""
    state = get_state()
    with state.lock:
        state.stats.reset()
        data = state.stats.as_dict()
    return json_response(data, headers={"Cache-Control": "no-store"})
