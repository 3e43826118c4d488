"""OAuth endpoints of the simulated `zoom.us` (ZOOM_API.md §1, §9.1).

- `GET /oauth/authorize?response_type=code&client_id&redirect_uri&state[&code_challenge
  &code_challenge_method=S256]` → an HTML page to pick the simulated Zoom user. Its form POSTs
  back to the same path: "Authorize" → 302 `redirect_uri?code=..&state=..`; "Cancel" → 302
  `redirect_uri?error=access_denied&state=..`. Unknown client, a redirect_uri off the allow-list
  or a response_type other than `code` → 400 error page (never a redirect).
- `POST /oauth/token` (params in the query string or a form body, HTTP Basic client auth):
  `grant_type=authorization_code` (code, redirect_uri, code_verifier) or `refresh_token`.
  200 `{"access_token","token_type":"bearer","refresh_token","expires_in":3599,"scope"}`;
  400 `{"reason","error"}` with error `invalid_client`, `invalid_grant`, `invalid_request` or
  `unsupported_grant_type`.
- `POST /oauth/revoke` (Basic auth, `token` in the form or query) → 200 `{"status":"success"}`,
  then a signed `app_deauthorized` delivery after the response.
"""

from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import current_app, redirect, render_template, request

from .blueprint import (
    apply_latency,
    bp,
    dropped_connection,
    get_state,
    injected_failure,
    json_response,
)
from .errors import AuthorizeError, OAuthError

AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
)
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' {origin}"
)


def _back_to_client(params, **result):
    """Redirect to the client's redirect_uri with `result` and the echoed `state`."""
    parts = urlsplit(params["redirect_uri"])
    query = dict(result)
    if params.get("state"):
        query["state"] = params["state"]
    joined = "&".join(p for p in (parts.query, urlencode(query)) if p)
    return redirect(urlunsplit(parts._replace(query=joined)), 302)


def _authorize_page(state, params, error=None, status=200):
    parts = urlsplit(params["redirect_uri"])
    html = render_template(
        "zoom_sim/authorize.html",
        app_name=state.config.app_name,
        redirect_uri=params["redirect_uri"],
        fields={k: params[k] for k in AUTHORIZE_FIELDS if params.get(k)},
        users=state.active_users(),
        selected=request.form.get("user_id"),
        error=error,
    )
    response = current_app.response_class(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP.format(
        origin=f"{parts.scheme}://{parts.netloc}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    """Show the sign-in page, or answer its form with a redirect to the client."""
    state = get_state()
    apply_latency(state)
    params = request.args if request.method == "GET" else request.form
    try:
        state.check_authorize(params, request.host_url)
    except AuthorizeError as exc:
        html = render_template("zoom_sim/error.html", message=exc.message, code=exc.code)
        return current_app.response_class(html, status=400, mimetype="text/html")
    if request.method == "GET":
        return _authorize_page(state, params)
    if request.form.get("action") == "cancel":
        return _back_to_client(params, error="access_denied")
    try:
        code = state.issue_code(
            request.form.get("user_id", ""),
            params["redirect_uri"],
            params.get("code_challenge"),
            params.get("code_challenge_method"),
        )
    except KeyError:
        return _authorize_page(
            state, params, error="Choose the Zoom user to sign in as.", status=400
        )
    return _back_to_client(params, code=code)


def _client_ok(state):
    auth = request.authorization
    return (
        auth is not None
        and auth.type == "basic"
        and state.check_client(auth.username, auth.password)
    )


def _oauth_error(exc):
    return json_response(exc.body(), exc.status, {"Cache-Control": "no-store"})


def _grant(state, params):
    """The grant a token request earns, and the drop fault to apply to a refresh (or None)."""
    grant_type = params.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "Missing grant_type")
    if grant_type == "authorization_code":
        code, redirect_uri = params.get("code"), params.get("redirect_uri")
        return state.exchange_code(code, redirect_uri, params.get("code_verifier")), None
    if grant_type == "refresh_token":
        grant = state.refresh(params.get("refresh_token"))
        return grant, state.take_refresh_drop()
    raise OAuthError("unsupported_grant_type", "Unsupported grant type")


@bp.route("/oauth/token", methods=["POST"])
def token():
    """Exchange a code or rotate a refresh token."""
    state = get_state()
    with state.lock:
        state.stats.token_call()
    apply_latency(state)
    failure = injected_failure(state, "oauth")
    if failure is not None:
        return failure
    if not _client_ok(state):
        return _oauth_error(OAuthError("invalid_client", "Invalid client_id or client_secret"))
    try:
        grant, drop = _grant(state, {**request.args.to_dict(), **request.form.to_dict()})
    except OAuthError as exc:
        return _oauth_error(exc)
    if drop == "close":
        return dropped_connection()
    if drop == "500":
        return json_response({"code": 500, "message": "Internal Error"}, 500)
    return json_response(
        state.token_response(grant), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


@bp.route("/oauth/revoke", methods=["POST"])
def revoke():
    """Revoke a token (and its user's whole authorization); notify the app afterwards."""
    state = get_state()
    apply_latency(state)
    failure = injected_failure(state, "oauth")
    if failure is not None:
        return failure
    if not _client_ok(state):
        return _oauth_error(OAuthError("invalid_client", "Invalid client_id or client_secret"))
    token_value = request.form.get("token") or request.args.get("token")
    if not token_value:
        return _oauth_error(OAuthError("invalid_request", "Missing token"))
    state.revoke_token(token_value, deliver=False)
    response = json_response({"status": "success"})
    response.call_on_close(state.webhooks.flush)
    return response
