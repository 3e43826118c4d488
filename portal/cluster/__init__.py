"""A local cluster on this machine's PostgreSQL and Redis: ``make cluster``.

    make cluster                      # or: .venv/bin/python -m portal.cluster [--help]

It runs, each as a child of this launcher:

- 2 portal servers (``gunicorn wsgi:app``, 2 workers each) on two ports, behind no proxy, in
  production mode (no FLASK_DEBUG; generated SECRET_KEY, TOKEN_ENCRYPTION_KEYS, Zoom client
  secret and webhook secret, kept in ``instance/cluster/secrets.json`` so a restart still
  decrypts the tokens it stored);
- 2 huey consumers on Redis (``HUEY_REDIS_URL``); only the first enqueues the periodic tasks
  (``--no-periodic`` on the others, as huey advises), every one takes queued work;
- the Zoom simulator at its own origin, built by the same factory as ``make zoom-sim``
  (``portal/zoom/simulator/server.py``) and served from a thread of this launcher; the portal
  finds it only through the contract variables (ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET,
  ZOOM_REDIRECT_URI, ZOOM_OAUTH_BASE_URL, ZOOM_API_BASE_URL, ZOOM_WEBHOOK_SECRET_TOKEN).

The database is its own (``vmp_cluster`` unless told otherwise): created when missing,
migrated with ``portal init-db``, the demo loaded with ``portal demo --if-empty``. Ctrl-C or
SIGTERM stops every child (each runs in its own process group, and is told to stop if the
launcher itself dies); a second launcher for the same folder says one is running and exits.

The same pieces serve the cluster tests (``tests/cluster/``), the benchmark
(``bench/cluster.py``) and the one-server deployed tests (``tests/e2e/deployed/``).
"""

import json
import os
import subprocess
import urllib.request

from .processes import (
    BIN,
    CONSUMER_READY,
    ROOT,
    ClusterError,
    Processes,
    SimulatorServer,
    consumer_argv,
    contract_env,
    generated_secrets,
    gunicorn_argv,
    simulator_env,
    wait_ready,
)
from .stores import (
    POSTGRES_URL,
    REDIS_URL,
    database_url,
    drop_database,
    ensure_database,
    flush_redis,
    postgres_problem,
    redis_problem,
)

__all__ = [
    "BIN",
    "CONSUMER_READY",
    "FIRST_PORT",
    "POSTGRES_URL",
    "REDIS_URL",
    "ROOT",
    "Cluster",
    "ClusterError",
    "Processes",
    "SimulatorServer",
    "consumer_argv",
    "contract_env",
    "database_url",
    "drop_database",
    "ensure_database",
    "flush_redis",
    "generated_secrets",
    "gunicorn_argv",
    "postgres_problem",
    "redis_problem",
    "simulator_env",
    "wait_ready",
]

FIRST_PORT = 5100  # portal A; B, C … follow; Zoom comes after the last portal


class Cluster:
    """N portal servers, M job consumers and the Zoom simulator on one database and one Redis."""

    def __init__(
        self,
        folder,
        database_url,
        redis_url,
        *,
        first_port=FIRST_PORT,
        ports=None,
        servers=2,
        consumers=2,
        server_workers=2,
        consumer_workers=2,
        keys=None,
        extra_env=None,
        sim_options=None,
    ):
        os.makedirs(folder, exist_ok=True)
        self.folder = folder
        # ``ports``: the servers' then Zoom's; else consecutive ones from ``first_port``.
        ports = list(ports or range(first_port, first_port + servers + 1))
        self.ports, self.zoom_port = ports[:servers], ports[servers]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.zoom_url = f"http://127.0.0.1:{self.zoom_port}"
        self.redis_url = redis_url
        self.consumer_count = consumers
        self.server_workers = server_workers
        self.consumer_workers = consumer_workers
        self.env = contract_env(
            self.urls[0],
            self.zoom_url,
            database_url,
            os.path.join(folder, "instance"),
            keys,
            HUEY_REDIS_URL=redis_url,
            **(extra_env or {}),
        )
        self.sim_env = simulator_env(self.env, self.zoom_url, f"{self.urls[0]}/webhooks/zoom")
        self.simulator = SimulatorServer(self.sim_env, self.zoom_port, **(sim_options or {}))
        self.processes = Processes(folder, self.env)

    @property
    def zoom(self):
        """The simulated Zoom's state (users, grants, meetings, fault switches)."""
        return self.simulator.state

    def zoom_stats(self, reset=False):
        """The simulator's counters (``GET /control/stats``); ``reset``: zero them after."""
        with urllib.request.urlopen(self.zoom_url + "/control/stats", timeout=10) as answer:
            stats = json.load(answer)
        if reset:
            self.reset_zoom_stats()
        return stats

    def reset_zoom_stats(self):
        """``POST /control/stats/reset``: every counter back to zero."""
        ask = urllib.request.Request(self.zoom_url + "/control/stats/reset", b"", method="POST")
        with urllib.request.urlopen(ask, timeout=10) as answer:
            return json.load(answer)

    def server_names(self):
        return [f"portal-{chr(ord('a') + n)}" for n in range(len(self.ports))]

    def consumer_names(self, count=None):
        return [f"jobs-{n + 1}" for n in range(self.consumer_count if count is None else count)]

    def portal_command(self, *args):
        """Run ``flask --app wsgi portal <args>`` with the cluster's environment; its output."""
        out = subprocess.run(
            [os.path.join(BIN, "flask"), "--app", "wsgi", "portal", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise ClusterError(f"portal {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out.stdout

    def prepare(self, demo=False):
        """Migrate the database (and load the demo institution when it has no users)."""
        lines = [self.portal_command("init-db").strip()]
        if demo:  # its first line says what it did; the logins come in the banner
            said = self.portal_command("demo", "--if-empty").strip().splitlines()[0]
            loaded = not said.startswith("Demo logins")
            lines.append(said if loaded else "The database has users already: no demo loaded.")
        return "\n".join(lines)

    def start(self, timeout=60):
        self.simulator.start()
        try:
            for name, port in zip(self.server_names(), self.ports, strict=True):
                self.processes.spawn(name, gunicorn_argv(port, self.server_workers))
            self.start_consumers(self.consumer_count, timeout=timeout)
            wait_ready(self.processes, self.urls, timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def start_consumers(self, count, timeout=60):
        """Start ``count`` consumers (jobs-1 schedules the periodic tasks); wait for them."""
        self.consumer_count = count
        for n, name in enumerate(self.consumer_names(count)):
            argv = consumer_argv(self.consumer_workers, periodic=n == 0)
            self.processes.spawn(name, argv)
        wait_ready(self.processes, consumers=self.consumer_names(count), timeout=timeout)

    def stop_consumers(self):
        self.processes.stop([n for n, _ in self.processes.processes if n.startswith("jobs-")])

    def stop(self):
        self.processes.stop()
        self.simulator.stop()

    def log_text(self, name):
        return self.processes.log_text(name)
