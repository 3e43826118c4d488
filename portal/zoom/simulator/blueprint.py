"""The simulator's blueprint (`zoom_sim`) and response helpers shared by its views.

Every response carries `x-zm-trackingid` (`v=2.0;clid=<cluster>;rid=WEB_<hex>`) and, after the
rate limiter counted the call, its `X-RateLimit-*` headers; a 429 carries only the headers it was
raised with (Zoom's per-user 429 has no `X-RateLimit-Type`, ZOOM_API.md §5, §9.5). JSON is
compact with keys in Zoom's order and `Content-Type: application/json`.
"""

import contextlib
import json
import os
import secrets
import socket
import time

from flask import Blueprint, current_app, g, request

TEMPLATES = os.path.abspath(
    os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir, "templates")
)

bp = Blueprint("zoom_sim", __name__, template_folder=TEMPLATES)

XML_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<error><code>{status}</code><message>Internal Error</message></error>"
)
HTML_ERROR = "<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"


def get_state():
    """Return the `SimulatorState` of the current app."""
    return current_app.extensions["zoom_sim"]


def json_response(data, status=200, headers=None):
    """Return compact JSON as Zoom sends it (None → empty body, e.g. for 204)."""
    body = b"" if data is None else json.dumps(data, separators=(",", ":")).encode()
    response = current_app.response_class(body, status=status, headers=headers or {})
    if data is not None:
        response.mimetype = "application/json"
    else:
        response.headers.pop("Content-Type", None)
    return response


def apply_latency(state):
    """Sleep for the configured latency, outside the state lock."""
    with state.lock:
        delay = state.faults.latency
    if delay:
        time.sleep(delay)


def injected_failure(state, scope):
    """Return the response for an injected failure in `scope`, or None when there is none."""
    failure = state.take_failure(scope)
    if failure is None:
        return None
    status, kind = failure
    if kind == "xml":
        return current_app.response_class(
            XML_ERROR.format(status=status), status=status, mimetype="application/xml"
        )
    if kind == "html":
        return current_app.response_class(
            HTML_ERROR.format(status=status), status=status, mimetype="text/html"
        )
    if kind == "empty":
        return current_app.response_class(b"", status=status)
    message = "Internal Error" if status >= 500 else "Simulated failure."
    return json_response({"code": status, "message": message}, status)


def dropped_connection():
    """Return a response whose body aborts before any byte is sent.

    Raising alone is not enough over real HTTP: Werkzeug's server then sends nothing, and as no
    `Connection: close` went out it keeps the HTTP/1.1 connection open waiting for the next
    request, so the client hangs until its read timeout. So the socket (`werkzeug.socket`, or
    gunicorn's `gunicorn.socket`) is shut down first and the client sees the connection close with
    no status line at once; under the WSGI transport the `ConnectionAbortedError` becomes
    `requests.exceptions.ConnectionError`. Either way the client gets no answer.
    """
    environ = request.environ
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")

    def body():
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("zoom simulator dropped the connection")
        yield b""  # pragma: no cover - makes this a generator

    return current_app.response_class(body(), status=200, mimetype="application/json")


@bp.after_request
def add_tracking_id(response):
    """Add Zoom's tracking id and any rate-limit headers computed for this request."""
    cluster = getattr(g, "zoom_sim_cluster", "us06")
    response.headers.setdefault(
        "x-zm-trackingid", f"v=2.0;clid={cluster};rid=WEB_{secrets.token_hex(16)}"
    )
    if response.status_code != 429:  # a 429 keeps exactly the headers it was raised with
        for key, value in getattr(g, "zoom_sim_headers", {}).items():
            response.headers.setdefault(key, value)
    return response
