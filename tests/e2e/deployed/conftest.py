"""The portal as a center deploys it, for browser tests.

- The portal runs under gunicorn (2 workers) in production mode: no FLASK_DEBUG, generated
  SECRET_KEY, TOKEN_ENCRYPTION_KEYS, Zoom client secret and webhook secret.
- Zoom is the simulator as its own server on another port (another origin), built by the same
  factory as ``make zoom-sim`` and configured only through the contract variables
  (ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, ZOOM_REDIRECT_URI, ZOOM_OAUTH_BASE_URL, ZOOM_API_BASE_URL,
  ZOOM_WEBHOOK_SECRET_TOKEN). It serves in a thread of the test process, so a test can look at
  and change Zoom's side of the world (``deployed.zoom``).
- The huey consumer runs beside it (``huey_consumer huey_app.huey``), with its SQLite queue in a
  temporary INSTANCE_PATH.
- Mail goes over SMTP (MAIL_URL, MAIL_FROM, PUBLIC_BASE_URL) to a real SMTP server in the test
  process (``deployed.smtp``, aiosmtpd), so a test reads the messages people would receive.

The processes start once for this folder; each test gets a fresh simulated Zoom and empty
tables.
Every test ends by checking that the portal's log holds no traceback (no 500 went unseen).
"""

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from cryptography.fernet import Fernet
from support.mail import SENDER, SMTPServer
from werkzeug.serving import make_server

from e2e.browser import free_port
from portal.zoom.simulator import SimConfig, SimulatorState
from portal.zoom.simulator.live import _QuietHandler
from portal.zoom.simulator.server import create_app as create_sim_app
from portal.zoom.simulator.server import options_from_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)


class Deployed:
    """Addresses, secrets and logs of the running world."""

    def __init__(self, tmp, database_url):
        self.tmp = tmp
        self.port = free_port()
        self.sim_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.zoom_url = f"http://127.0.0.1:{self.sim_port}"
        self.smtp = SMTPServer()
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "ZOOM_", "HUEY_"))
        }
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "SECRET_KEY": secrets.token_urlsafe(48),
                "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "ZOOM_CLIENT_ID": "portal-" + secrets.token_hex(6),
                "ZOOM_CLIENT_SECRET": secrets.token_urlsafe(24),
                "ZOOM_REDIRECT_URI": f"{self.url}/zoom/callback",
                "ZOOM_OAUTH_BASE_URL": self.zoom_url,
                "ZOOM_API_BASE_URL": self.zoom_url + "/v2",
                "ZOOM_WEBHOOK_SECRET_TOKEN": secrets.token_urlsafe(24),
                "INSTANCE_PATH": os.path.join(tmp, "instance"),
                "MAIL_URL": self.smtp.url,
                "MAIL_FROM": SENDER,
                "PUBLIC_BASE_URL": self.url,
                "PYTHONUNBUFFERED": "1",
                # Small batches, so a handful of tutors spreads over both consumer workers.
                "HEALTH_SCAN_BATCH_SIZE": "2",
                "PROVISION_BATCH_SIZE": "2",
            }
        )
        self.sim_env = dict(self.env)
        self.sim_env.update(
            {
                "ZOOM_SIM_BASE_URL": self.zoom_url,
                "ZOOM_SIM_WEBHOOK_URL": f"{self.url}/webhooks/zoom",
            }
        )
        self.sim_app = create_sim_app(self.sim_env)
        self.processes = []
        self.logs = {}

    # --- Zoom's side ---------------------------------------------------------------------------

    @property
    def zoom(self):
        """The simulated Zoom's state (users, grants, meetings, fault switches)."""
        return self.sim_app.extensions["zoom_sim"]

    def new_zoom(self, **overrides):
        """Give the next test a Zoom of its own (same address and credentials)."""
        old = self.zoom
        options = options_from_env(self.sim_env)
        options.update(overrides)
        self.sim_app.extensions["zoom_sim"] = SimulatorState(SimConfig(**options))
        old.close()
        return self.zoom

    # --- processes -----------------------------------------------------------------------------

    def start(self):
        self.smtp.start()
        self._serve_simulator()
        self._spawn(
            "portal",
            [
                os.path.join(BIN, "gunicorn"),
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "2",
                "wsgi:app",
            ],
        )
        self._spawn("jobs", [os.path.join(BIN, "huey_consumer"), "huey_app.huey", "--workers", "2"])
        self._wait_ready()

    def _serve_simulator(self):
        self.sim_server = make_server(
            "127.0.0.1", self.sim_port, self.sim_app, threaded=True, request_handler=_QuietHandler
        )
        thread = threading.Thread(target=self.sim_server.serve_forever, daemon=True)
        thread.start()
        self.sim_thread = thread

    def _spawn(self, name, argv):
        path = os.path.join(self.tmp, f"{name}.log")
        log = open(path, "w")  # noqa: SIM115 - closed in stop()
        self.logs[name] = (path, log)
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, proc))

    def _wait_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for name, proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log_text(name)[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                    if answer.status == 200 and "commands are available" in self.log_text("jobs"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the deployed portal did not answer /healthz within 60 s")

    def log_text(self, name="portal"):
        path, log = self.logs[name]
        log.flush()
        with open(path, errors="replace") as fh:
            return fh.read()

    def stop(self):
        for _name, proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        for _path, log in self.logs.values():
            log.close()
        self.sim_server.shutdown()
        self.sim_server.server_close()
        self.zoom.close()
        self.smtp.stop()


@pytest.fixture(scope="package")
def deployed_world(database_url, tmp_path_factory):
    """Start the portal, the job consumer and the simulated Zoom once for these tests.

    They stop when this folder's tests are done, so their periodic jobs never hold
    locks while the rest of the suite empties the tables.
    """
    world = Deployed(str(tmp_path_factory.mktemp("deployed")), database_url)
    try:
        world.start()
        yield world
    finally:
        world.stop()


@pytest.fixture
def deployed(deployed_world, app):
    """The deployed world with a fresh Zoom and empty tables; fails on any portal traceback."""
    deployed_world.new_zoom()
    deployed_world.smtp.inbox.messages.clear()
    offsets = {name: len(deployed_world.log_text(name)) for name in deployed_world.logs}
    yield deployed_world
    for name, offset in offsets.items():
        fresh = deployed_world.log_text(name)[offset:]
        at = fresh.find("Traceback")
        assert at < 0, f"{name} logged an error:\n{fresh[max(at - 300, 0) : at + 4000]}"


def deployed_app_config(app_config, world):
    """The in-test app (for seeding and reading rows) sees what the deployed portal sees."""
    config = dict(app_config)
    for key in (
        "TOKEN_ENCRYPTION_KEYS",
        "ZOOM_CLIENT_ID",
        "ZOOM_CLIENT_SECRET",
        "ZOOM_REDIRECT_URI",
        "ZOOM_OAUTH_BASE_URL",
        "ZOOM_API_BASE_URL",
        "ZOOM_WEBHOOK_SECRET_TOKEN",
    ):
        config[key] = world.env[key]
    config["ZOOM_SIMULATOR"] = False
    return config


@pytest.fixture
def app_config(app_config, deployed_world):
    return deployed_app_config(app_config, deployed_world)
