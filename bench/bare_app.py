"""The ceiling of this stack on this machine: a bare Flask app under the same gunicorn.

.venv/bin/gunicorn -w 2 bench.bare_app:app
"""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def ok():
    return "ok\n"
