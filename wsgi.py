"""Production entry point: `gunicorn wsgi:app`. A bad setting stops it with one line."""

import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"Virtual Meetings Portal cannot start: {exc}")
