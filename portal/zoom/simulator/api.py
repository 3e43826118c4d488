"""REST endpoints of the simulated `api.zoom.us/v2` (ZOOM_API.md §2-§3, §9.2-9.5).

| endpoint | label | success |
|---|---|---|
| `GET /v2/users/{me|id|email}` | Light | 200 user |
| `GET /v2/users/{me|id|email}/settings` | Medium | 200 (subset) |
| `POST /v2/users/{me|id|email}/meetings` | Medium | 201 meeting (counts toward 100/day) |
| `GET /v2/users/{me|id|email}/meetings?type&page_size&next_page_token` | Medium | 200 page |
| `GET /v2/meetings/{id|uuid}[?occurrence_id]` | Light | 200 meeting, fresh `start_url` |
| `PATCH /v2/meetings/{id}[?occurrence_id]` | Light | 204 (counts toward 100/day) |
| `DELETE /v2/meetings/{id}[?occurrence_id]` | Light | 204, then `meeting.deleted` |

Every call needs `Authorization: Bearer <access token>` (401 code 124 otherwise), a scope for the
operation (400 code 4711), and passes the rate limiter (429). Errors are `{"code","message"}`.
Another user's id or email → 404 1001 (a user-level token only sees its own user).
"""

import secrets
from datetime import timedelta
from functools import wraps

from flask import g, request

from .blueprint import apply_latency, bp, get_state, injected_failure, json_response
from .errors import LOCALIZED_MESSAGES, OAuthError, ZoomError, user_not_found, validation_failed
from .validation import parse_body

LIST_TYPES = {"scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"}
# Zoom's rate-limit label per operation (ZOOM_API.md §5).
LABELS = {
    "user": "Light",
    "user_settings": "Medium",
    "meeting_create": "Medium",
    "meeting_list": "Medium",
    "meeting_get": "Light",
    "meeting_update": "Light",
    "meeting_delete": "Light",
}


@bp.errorhandler(ZoomError)
def zoom_error(exc):
    """Answer an API error with Zoom's JSON body and any rate-limit headers."""
    body = exc.body()
    if get_state().config.localized_errors and exc.code in LOCALIZED_MESSAGES:
        body["message"] = LOCALIZED_MESSAGES[exc.code]
    return json_response(body, exc.status, exc.headers)


@bp.errorhandler(OAuthError)
def oauth_error(exc):
    return json_response(exc.body(), exc.status)


def api_call(operation):
    """Wrap a view: latency and injected faults, bearer auth, scope, rate limit, stats."""

    def decorator(view):
        @wraps(view)
        def wrapper(**kwargs):
            state = get_state()
            apply_latency(state)
            failure = injected_failure(state, "api")
            if failure is not None:
                return failure
            user, grant = state.authenticate(request.headers.get("Authorization"))
            g.zoom_sim_cluster = user.cluster
            state.require_scope(grant, operation)
            try:
                with state.lock:
                    now = state.now()
                    state.stats.api_request(user.account_id, now)
                    g.zoom_sim_headers = state.limiter.hit(
                        user.account_id,
                        state.plan_for(user),
                        LABELS[operation],
                        now,
                        enabled=state.config.rate_limits,
                    )
                return view(state, user, **kwargs)
            except ZoomError as exc:
                if exc.status == 429:
                    with state.lock:
                        state.stats.rate_limited(user.account_id)
                raise

        return wrapper

    return decorator


def _own_user(user, ref):
    if ref == "me" or user.matches(ref):
        return user
    raise user_not_found(ref)


def _count_quota(state, user):
    with state.lock:
        state.limiter.hit_user_quota(
            user.id,
            state.now(),
            state.config.user_daily_limit,
            g.zoom_sim_headers,
            retry_after=state.config.user_limit_retry_after,
        )


@bp.route("/v2/users/<user_ref>", methods=["GET"])
@api_call("user")
def get_user(state, user, user_ref):
    """Return the token's user."""
    found = _own_user(user, user_ref)
    return json_response(found.to_json(state.now(), state.config.meeting_url_base))


@bp.route("/v2/users/<user_ref>/settings", methods=["GET"])
@api_call("user_settings")
def get_user_settings(state, user, user_ref):
    """Return the settings cal.com-style clients mirror into new meetings."""
    return json_response(_own_user(user, user_ref).settings_json())


@bp.route("/v2/users/<user_ref>/meetings", methods=["POST"])
@api_call("meeting_create")
def create_meeting(state, user, user_ref):
    """Create a meeting for the token's user (201)."""
    host = _own_user(user, user_ref)
    _count_quota(state, host)
    meeting = state.create_meeting(host, parse_body(request.get_data()))
    with state.lock:
        body = state.meeting_json(meeting, for_create=True)
    return json_response(body, 201)


@bp.route("/v2/users/<user_ref>/meetings", methods=["GET"])
@api_call("meeting_list")
def list_meetings(state, user, user_ref):
    """List the user's meetings, one page at a time (`next_page_token` is "" on the last)."""
    host = _own_user(user, user_ref)
    page_size = _page_size(request.args)
    kind, offset = request.args.get("type", "scheduled"), 0
    token = request.args.get("next_page_token")
    with state.lock:
        if token:
            kind, offset = _resume(state, host, token)
        if kind not in LIST_TYPES:
            raise validation_failed([("type", "Invalid field.")])
        found = state.list_meetings(host, kind)
        more = offset + page_size < len(found)
        body = {
            "page_size": page_size,
            "total_records": len(found),
            "next_page_token": _page_token(state, host, kind, offset + page_size) if more else "",
            "meetings": [state.meeting_summary(m) for m in found[offset : offset + page_size]],
        }
    return json_response(body)


def _page_size(args):
    try:
        page_size = int(args.get("page_size", 30))
    except ValueError:
        raise validation_failed([("page_size", "Invalid field.")]) from None
    return min(max(page_size, 1), 300)


def _resume(state, host, token):
    """The (type, offset) a next_page_token stands for (400/300 when unknown or expired)."""
    saved = state.page_tokens.get(token)
    if saved is None or saved["user_id"] != host.id or state.now() >= saved["expires_at"]:
        raise ZoomError(400, 300, "The next page token is invalid or expired.")
    return saved["kind"], saved["offset"]


def _page_token(state, host, kind, offset):
    """A new next_page_token for the page starting at ``offset`` (call with the lock held)."""
    token = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(35))
    state.page_tokens[token] = {
        "user_id": host.id,
        "kind": kind,
        "offset": offset,
        "expires_at": state.now() + timedelta(seconds=state.config.page_token_lifetime),
    }
    return token


@bp.route("/v2/meetings/<path:meeting_id>", methods=["GET"])
@api_call("meeting_get")
def get_meeting(state, user, meeting_id):
    """Return a meeting with a fresh start_url; other hosts' meetings answer 3001."""
    with state.lock:
        meeting = state.find_meeting(meeting_id)
        if meeting.host_id != user.id:
            raise ZoomError(404, 3001, f"Meeting does not exist: {meeting_id}.")
        body = state.meeting_json(meeting, request.args.get("occurrence_id"))
    return json_response(body)


@bp.route("/v2/meetings/<path:meeting_id>", methods=["PATCH"])
@api_call("meeting_update")
def update_meeting(state, user, meeting_id):
    """Update a meeting (204, empty body)."""
    _count_quota(state, user)
    body = parse_body(request.get_data())
    state.update_meeting(user, meeting_id, body, request.args.get("occurrence_id"))
    return json_response(None, 204)


@bp.route("/v2/meetings/<path:meeting_id>", methods=["DELETE"])
@api_call("meeting_delete")
def delete_meeting(state, user, meeting_id):
    """Delete a meeting (204); `meeting.deleted` is delivered after the response."""
    occurrence_id = request.args.get("occurrence_id")
    meeting, operation = state.delete_meeting(user, meeting_id, occurrence_id)
    state.emit_meeting_deleted(meeting, operation, deliver=False, occurrence_id=occurrence_id)
    response = json_response(None, 204)
    response.call_on_close(state.webhooks.flush)
    return response


@bp.route(
    "/v2/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], endpoint="api_unknown"
)
def unknown(rest):
    """Answer paths the simulator does not implement like Zoom does: JSON, not HTML."""
    return json_response({"code": 404, "message": "The requested resource does not exist."}, 404)
