"""Production entry point: `gunicorn wsgi:app`. A bad setting stops it with one line.

The `flask --app wsgi …` command line loads this module too: Flask's CLI marks its
process (FLASK_RUN_FROM_CLI), and there a missing secret is only a warning, because
commands such as init-db and doctor serve no requests.
"""

import os
import sys

from portal import create_app
from portal.config import ConfigError

try:
    app = create_app(serving=os.environ.get("FLASK_RUN_FROM_CLI") != "true")
except ConfigError as exc:
    sys.exit(f"Virtual Meetings Portal cannot start: {exc}")
