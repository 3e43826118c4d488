"""HTTP for Zoom's event notifications.

``POST /webhooks/zoom`` (ZOOM_API §4): body ≤ 64 KiB (413), ``Content-Type:
application/json`` (415), then signature and timestamp (401), then the event
(400), then record and answer 200 within Zoom's 3 s; effects run afterwards.
Answers are small JSON documents and never echo the request.
"""

import logging
import re

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..db import database
from ..enqueue import enqueue
from ..live import inbox, signature
from ..live.effects import process_pending

log = logging.getLogger("portal.webhooks")

bp = Blueprint("webhooks", __name__)

PROCESSING_MODES = ("huey", "after_response", "manual")

MAX_BODY = 64 * 1024
_TRACKING = re.compile(r"[A-Za-z0-9_.;=:-]{1,100}")


def _json(status, body):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/zoom", methods=["POST"])
def zoom_webhook():
    """Receive one Zoom event: verify, record, commit, answer; its effect runs right after."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _json(413, {"error": "body too large"})
    if request.mimetype != "application/json":
        return _json(415, {"error": "application/json expected"})
    # One byte over the limit: a chunked body has no Content-Length, and werkzeug stops
    # reading at the limit without an error, so only a longer read shows it is too large.
    request.max_content_length = MAX_BODY + 1
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return _json(413, {"error": "body too large"})
    if len(raw) > MAX_BODY:
        return _json(413, {"error": "body too large"})
    tracking = request.headers.get("x-zm-trackingid", "")
    config = current_app.config
    answer = inbox.receive(
        raw,
        request.headers.get("x-zm-request-timestamp"),
        request.headers.get("x-zm-signature"),
        signature.secrets_from(config.get("ZOOM_WEBHOOK_SECRET_TOKEN")),
        tolerance=int(config.get("ZOOM_WEBHOOK_TOLERANCE_SECONDS", signature.DEFAULT_TOLERANCE)),
        tracking_id=tracking if _TRACKING.fullmatch(tracking) else None,
    )
    response = _json(answer.status, answer.body)
    if answer.delivery_id is not None:
        _schedule_effects(current_app._get_current_object(), response)
    return response


def _schedule_effects(app, response):
    """Start the effects of the delivery just committed, as configured."""
    mode = app.config["WEBHOOK_PROCESSING"]
    if mode == "huey":
        enqueue(app, "process_webhooks", tolerate=True)  # else the minutely sweep applies it
    elif mode == "after_response":
        response.call_on_close(lambda: _process_in(app))


def _process_in(app):
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            process_pending()
        except Exception:  # noqa: BLE001 - the response is gone; the sweep retries
            log.exception("webhook processing after the response failed")
        finally:
            database.close()
