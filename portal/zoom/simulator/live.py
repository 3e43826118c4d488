"""A standalone simulator app and a live HTTP server for it (tests, demos).

`create_sim_app(**options)` mounts only the simulator, at `/` by default (OAuth at `/oauth/...`,
API at `/v2/...`, control page at `/`). `run_live(app)` serves any WSGI app on 127.0.0.1 with a
free port in a daemon thread (werkzeug `make_server(..., threaded=True)`) and yields its base URL;
leaving the `with` block shuts the server down and closes its socket.
"""

import logging
import os
import threading
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .blueprint import TEMPLATES, bp
from .state import SimConfig, SimulatorState

STATIC = os.path.join(os.path.dirname(TEMPLATES), "static")


def create_sim_app(state=None, *, url_prefix="", clock=None, users=None, http=None, **options):
    """Return a Flask app serving only the simulator; `options` are `SimConfig` fields."""
    app = Flask(__name__, static_folder=STATIC, template_folder=TEMPLATES)
    if state is None:
        state = SimulatorState(SimConfig(**options), clock=clock, users=users, http=http)
    elif options or clock or users or http:
        raise TypeError("pass either a state or options for a new one, not both")
    app.extensions["zoom_sim"] = state
    app.register_blueprint(bp, url_prefix=url_prefix or None)
    return app


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every request line."""

    def log_request(self, code="-", size="-"):
        logging.getLogger("portal.zoom.simulator").debug("%s %s", self.requestline, code)


@contextmanager
def run_live(app, host="127.0.0.1"):
    """Serve `app` on a free port in a thread; yield `http://host:port`."""
    server = make_server(host, 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://{host}:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
