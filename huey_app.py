"""Job consumer entry point: `.venv/bin/huey_consumer huey_app.huey`."""

import sys

from portal import create_app
from portal.config import ConfigError
from portal.jobs import create_huey

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"Virtual Meetings Portal jobs cannot start: {exc}")
huey = create_huey(app)
