"""The cluster's processes: production environments, children in their own process groups,
readiness, and the Zoom simulator served from a thread (``make zoom-sim``'s factory)."""

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from ..zoom.simulator import SimConfig, SimulatorState
from ..zoom.simulator.live import _QuietHandler
from ..zoom.simulator.server import create_app, options_from_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
CONSUMER_READY = "commands are available"  # what huey_consumer logs once it listens
PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """The cluster cannot start; the message says why and what to do."""


def generated_secrets():
    """Fresh production secrets: SECRET_KEY, a Fernet key, Zoom client and webhook secrets."""
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


def die_with_parent():
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
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, before exec
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
        old = self.state
        options = options_from_env(self.env)
        options.update(overrides)
        self.app.extensions["zoom_sim"] = SimulatorState(SimConfig(**options))
        old.close()
        return self.state

    def start(self):
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
