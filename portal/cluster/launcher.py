"""``make cluster``: one launcher per folder, the cluster's kept secrets, the banner, Ctrl-C."""

import argparse
import fcntl
import json
import os
import signal
import sys
import threading

from ..cli import DEMO_PASSWORD, DEMO_USERS
from . import FIRST_PORT, Cluster
from .processes import ROOT, ClusterError, die_with_parent, generated_secrets
from .stores import POSTGRES_URL, REDIS_URL, ensure_database, postgres_problem, redis_problem

DATABASE = "vmp_cluster"


def _keys(folder):
    """The cluster's secrets, generated once and kept (0600) so restarts decrypt old tokens."""
    path = os.path.join(folder, "secrets.json")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(generated_secrets(), fh)
    with open(path) as fh:
        return json.load(fh)


def hold_lock(folder):
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
        die_with_parent()

    os.makedirs(args.folder, exist_ok=True)
    try:
        lock = hold_lock(args.folder)
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
