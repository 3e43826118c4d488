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

import pytest
from support.mail import SENDER, SMTPServer

from e2e.browser import free_port
from portal.cluster import (
    Processes,
    SimulatorServer,
    consumer_argv,
    contract_env,
    gunicorn_argv,
    simulator_env,
    wait_ready,
)


class Deployed:
    """Addresses, secrets and logs of the running world (built from portal.cluster's pieces)."""

    def __init__(self, tmp, database_url):
        self.tmp = tmp
        self.port = free_port()
        self.sim_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.zoom_url = f"http://127.0.0.1:{self.sim_port}"
        self.smtp = SMTPServer()
        self.env = contract_env(
            self.url,
            self.zoom_url,
            database_url,
            os.path.join(tmp, "instance"),
            # Small batches, so a handful of tutors spreads over both consumer workers.
            HEALTH_SCAN_BATCH_SIZE=2,
            PROVISION_BATCH_SIZE=2,
            MAIL_URL=self.smtp.url,
            MAIL_FROM=SENDER,
        )
        self.sim_env = simulator_env(self.env, self.zoom_url, f"{self.url}/webhooks/zoom")
        self.simulator = SimulatorServer(self.sim_env, self.sim_port)
        self.children = Processes(tmp, self.env)

    # --- Zoom's side ---------------------------------------------------------------------------

    @property
    def zoom(self):
        """The simulated Zoom's state (users, grants, meetings, fault switches)."""
        return self.simulator.state

    def new_zoom(self, **overrides):
        """Give the next test a Zoom of its own (same address and credentials)."""
        return self.simulator.renew(**overrides)

    # --- processes -----------------------------------------------------------------------------

    @property
    def processes(self):
        return self.children.processes

    @property
    def logs(self):
        return self.children.logs

    def start(self):
        self.smtp.start()
        self.simulator.start()
        self.children.spawn("portal", gunicorn_argv(self.port))
        self.children.spawn("jobs", consumer_argv())
        wait_ready(self.children, [self.url], ["jobs"])

    def log_text(self, name="portal"):
        return self.children.log_text(name)

    def stop(self):
        self.children.stop()
        self.simulator.stop()
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
