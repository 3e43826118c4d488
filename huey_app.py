"""Job consumer entry point: `.venv/bin/huey_consumer huey_app.huey`."""

import sys

from portal import create_app
from portal.config import ConfigError
from portal.enqueue import huey_for

try:
    # With the simulator (development), Zoom calls go over HTTP to the web server's
    # simulator at ZOOM_SIM_BASE_URL: one simulated Zoom for both processes.
    app = create_app({"ZOOM_SIM_IN_PROCESS": False})
except ConfigError as exc:
    sys.exit(f"Virtual Meetings Portal jobs cannot start: {exc}")
huey = huey_for(app)
