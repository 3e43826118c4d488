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

import argparse
import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379/2"
DATABASE = "vmp_cluster"
FIRST_PORT = 5100  # portal A; B, C … follow; Zoom comes after the last portal
CONSUMER_READY = "commands are available"  # what huey_consumer logs once it listens
PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """The cluster cannot start; the message says why and what to do."""


# --- environment -------------------------------------------------------------------------------


def generated_secrets():
    """Fresh production secrets: SECRET_KEY, a Fernet key, Zoom client and webhook secrets."""
    from cryptography.fernet import Fernet

    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ZOOM_CLIENT_ID": "portal-" + secrets.token_hex(6),
        "ZOOM_CLIENT_SECRET": secrets.token_urlsafe(24),
        "ZOOM_WEBHOOK_SECRET_TOKEN": secrets.token_urlsafe(24),
    }


def contract_env(portal_url, zoom_url, database_url, instance_path, keys=None, **extra):
    """The environment of a production portal that meets Zoom at ``zoom_url``.

    Only the contract variables of DESIGN §8: nothing FLASK_, ZOOM_ or HUEY_ is inherited.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "ZOOM_", "HUEY_"))}
    env.pop("DATABASE_URL", None)
    env.update(keys or generated_secrets())
    env.update(
        {
            "DATABASE_URL": database_url,
            "ZOOM_REDIRECT_URI": f"{portal_url}/zoom/callback",
            "ZOOM_OAUTH_BASE_URL": zoom_url,
            "ZOOM_API_BASE_URL": zoom_url + "/v2",
            "INSTANCE_PATH": instance_path,
            "PUBLIC_BASE_URL": portal_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def simulator_env(env, zoom_url, webhook_url):
    """What ``make zoom-sim`` reads: the portal's variables plus its own address."""
    return dict(env, ZOOM_SIM_BASE_URL=zoom_url, ZOOM_SIM_WEBHOOK_URL=webhook_url)


# --- processes ---------------------------------------------------------------------------------


def _die_with_parent():
    """In the child: SIGTERM when the launcher dies, so nothing outlives it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Processes:
    """Children started in their own process groups, each logging to ``<folder>/<name>.log``."""

    def __init__(self, folder, env):
        self.folder = folder
        self.env = env
        self.processes = []  # (name, Popen), in start order
        self.logs = {}  # name -> (path, file)

    def spawn(self, name, argv, env=None):
        path = os.path.join(self.folder, f"{name}.log")
        log = open(path, "a")  # noqa: SIM115 - closed in stop()
        self.logs[name] = (path, log)
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
        )
        self.processes.append((name, proc))
        return proc

    def get(self, name):
        return dict(self.processes)[name]

    def log_text(self, name):
        path, log = self.logs[name]
        log.flush()
        with open(path, errors="replace") as fh:
            return fh.read()

    def exited(self):
        """(name, returncode) of the first child that is no longer running, or None."""
        for name, proc in self.processes:
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def stop(self, names=None, timeout=10):
        """SIGTERM each child's process group, then SIGKILL what is still there."""
        chosen = [(n, p) for n, p in self.processes if names is None or n in names]
        for _name, proc in chosen:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in chosen:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            # Whatever the group still holds (a worker that outlived its master) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for name, _proc in chosen:
            self.logs.pop(name)[1].close()
        self.processes = [(n, p) for n, p in self.processes if (n, p) not in chosen]


def gunicorn_argv(port, workers=2):
    return [
        os.path.join(BIN, "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "2",
        "wsgi:app",
    ]


def consumer_argv(workers=2, periodic=True):
    argv = [os.path.join(BIN, "huey_consumer"), "huey_app.huey", "--workers", str(workers)]
    return argv if periodic else [*argv, "--no-periodic"]


def answers(url, timeout=2):
    """True when ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


def wait_ready(processes, urls=(), consumers=(), timeout=60):
    """Wait until every URL answers 200 and every named consumer listens; raise ClusterError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = processes.exited()
        if gone:
            name, code = gone
            tail = processes.log_text(name)[-3000:]
            raise ClusterError(f"{name} exited early (status {code}):\n{tail}")
        if all(answers(u + "/healthz") for u in urls) and all(
            CONSUMER_READY in processes.log_text(c) for c in consumers
        ):
            return
        time.sleep(0.2)
    raise ClusterError(f"the cluster was not ready within {timeout} s (logs: {processes.folder})")


class SimulatorServer:
    """The standalone simulator app (``make zoom-sim``'s factory) served from a thread."""

    def __init__(self, env, port, **overrides):
        from portal.zoom.simulator.server import create_app

        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.app = create_app(env, **overrides)
        self.server = None

    @property
    def state(self):
        return self.app.extensions["zoom_sim"]

    def renew(self, **overrides):
        """A fresh simulated Zoom at the same address, with the same credentials."""
        from portal.zoom.simulator import SimConfig, SimulatorState
        from portal.zoom.simulator.server import options_from_env

        old = self.state
        options = options_from_env(self.env)
        options.update(overrides)
        self.app.extensions["zoom_sim"] = SimulatorState(SimConfig(**options))
        old.close()
        return self.state

    def start(self):
        from werkzeug.serving import make_server

        from portal.zoom.simulator.live import _QuietHandler

        self.server = make_server(
            "127.0.0.1", self.port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        self.state.close()


# --- PostgreSQL and Redis ----------------------------------------------------------------------


def database_url(server_url, name):
    """``server_url`` (postgresql://user@host:port/) with the database ``name``."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def _admin_connection(server_url):
    import psycopg2

    conn = psycopg2.connect(database_url(server_url, "postgres"), connect_timeout=3)
    conn.autocommit = True
    return conn


def postgres_problem(server_url):
    """None when PostgreSQL answers at ``server_url``, else a sentence saying why not."""
    try:
        _admin_connection(server_url).close()
    except Exception as exc:  # noqa: BLE001 - any failure is the reason to report
        return f"PostgreSQL at {server_url} cannot be reached ({' '.join(str(exc).split())})"
    return None


def redis_problem(url):
    """None when Redis answers at ``url``, else a sentence saying why not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure is the reason to report
        return f"Redis at {url} cannot be reached ({exc})"
    return None


def drop_database(server_url, name):
    """Drop the database ``name`` if it exists, closing its connections."""
    from psycopg2 import sql

    conn = _admin_connection(server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


def ensure_database(server_url, name, fresh=False):
    """Create the database ``name`` unless it exists (``fresh``: drop it first); its URL."""
    from psycopg2 import sql

    if fresh:
        drop_database(server_url, name)
    conn = _admin_connection(server_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return database_url(server_url, name)


def flush_redis(url):
    """Empty the Redis database of ``url`` (the cluster's own: queued jobs, rate budgets)."""
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


# --- the cluster -------------------------------------------------------------------------------


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


# --- make cluster ------------------------------------------------------------------------------


def _keys(folder):
    """The cluster's secrets, generated once and kept (0600) so restarts decrypt old tokens."""
    path = os.path.join(folder, "secrets.json")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(generated_secrets(), fh)
    with open(path) as fh:
        return json.load(fh)


def _hold_lock(folder):
    """The folder's lock file, held for the launcher's life; ClusterError if another has it."""
    path = os.path.join(folder, "cluster.lock")
    handle = open(path, "a+")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise ClusterError(
            f"A cluster is already running (launcher pid {pid}): stop it with Ctrl-C in its "
            f"terminal or `kill {pid}`, then start it again."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _banner(cluster, database):
    from portal.cli import DEMO_PASSWORD, DEMO_USERS

    lines = ["", "Virtual Meetings Portal cluster is running:"]
    for name, url in zip(cluster.server_names(), cluster.urls, strict=True):
        lines.append(f"  {name:<10} {url}   (gunicorn, {cluster.server_workers} workers)")
    lines.append(f"  {'zoom':<10} {cluster.zoom_url}   (the Zoom simulator; its control page)")
    jobs = ", ".join(cluster.consumer_names())
    lines.append(f"  {'jobs':<10} {jobs} on {cluster.redis_url}")
    lines.append(f"  {'database':<10} {database}")
    lines.append(f"  logs       {cluster.folder}/*.log")
    lines.append(f"Demo logins (password for all: {DEMO_PASSWORD}), on any server:")
    for email, _name, role, _centers in DEMO_USERS:
        lines.append(f"  {email:<26} {role}")
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the local cluster (make cluster).")
    parser.add_argument("--postgres", default=os.environ.get("CLUSTER_POSTGRES_URL", POSTGRES_URL))
    parser.add_argument("--database", default=os.environ.get("CLUSTER_DATABASE", DATABASE))
    parser.add_argument("--redis", default=os.environ.get("CLUSTER_REDIS_URL", REDIS_URL))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", FIRST_PORT)))
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo institution")
    parser.add_argument("--folder", default=os.path.join(ROOT, "instance", "cluster"))
    parser.add_argument(
        "--with-parent", action="store_true", help="stop when the parent (make) is killed"
    )
    args = parser.parse_args(argv)
    if args.with_parent:
        _die_with_parent()

    os.makedirs(args.folder, exist_ok=True)
    try:
        lock = _hold_lock(args.folder)
        for problem in (postgres_problem(args.postgres), redis_problem(args.redis)):
            if problem:
                raise ClusterError(problem + ": start it, or point --postgres/--redis at one.")
        url = ensure_database(args.postgres, args.database)
        cluster = Cluster(
            args.folder, url, args.redis, first_port=args.port, keys=_keys(args.folder)
        )
        print(cluster.prepare(demo=not args.no_demo), flush=True)
    except ClusterError as exc:
        print(exc, file=sys.stderr)
        return 1

    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status = 0
    try:
        cluster.start()
        print(_banner(cluster, url), flush=True)
        while not stopping.wait(1):
            gone = cluster.processes.exited()
            if gone:
                print(
                    f"{gone[0]} exited (status {gone[1]}); stopping the cluster.", file=sys.stderr
                )
                status = 1
                break
    except ClusterError as exc:
        print(exc, file=sys.stderr)
        status = 1
    finally:
        print("Stopping the cluster …", flush=True)
        cluster.stop()
        lock.close()
    print("Cluster stopped.")
    return status


if __name__ == "__main__":
    sys.exit(main())
