"""The launcher of ``make cluster`` (portal.cluster): one at a time, and nothing left behind.

These need neither PostgreSQL nor Redis; the cluster itself is tests/cluster/.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from portal import cluster
from portal.cluster.launcher import hold_lock


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie has exited: only its entry is left
        return fh.read().split(")")[-1].split()[0] != "Z"


def wait_gone(pids):
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_a_second_launcher_says_one_is_running_and_exits(tmp_path):
    held = hold_lock(str(tmp_path))
    try:
        second = subprocess.run(
            [sys.executable, "-m", "portal.cluster", "--folder", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=cluster.ROOT,
        )
    finally:
        held.close()
    assert second.returncode == 1
    assert f"A cluster is already running (launcher pid {os.getpid()})" in second.stderr
    assert "then start it again" in second.stderr
    hold_lock(str(tmp_path)).close()  # free again once the first one let go


def test_stop_ends_every_child_and_what_they_started(tmp_path):
    children = cluster.Processes(str(tmp_path), dict(os.environ))
    pidfile = tmp_path / "grandchild.pid"
    # A child that starts a grandchild and ignores SIGTERM, as a stuck server might.
    script = f"trap '' TERM; sleep 300 & echo $! > {pidfile}; wait"
    proc = children.spawn("stubborn", ["sh", "-c", script])
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.05)
    grandchild = int(pidfile.read_text())
    children.stop(timeout=1)
    assert proc.returncode is not None
    assert wait_gone([proc.pid, grandchild]) == []
    assert children.processes == [] and children.logs == {}


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="Linux only (prctl)")
def test_children_stop_when_the_launcher_is_killed(tmp_path):
    # A launcher that spawns one child and then waits; SIGKILL gives it no chance to stop it.
    code = (
        "import os, sys, time; from portal import cluster; "
        f"p = cluster.Processes({str(tmp_path)!r}, dict(os.environ)); "
        "c = p.spawn('sleeper', ['sleep', '300']); print(c.pid, flush=True); time.sleep(300)"
    )
    launcher = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=cluster.ROOT
    )
    child = int(launcher.stdout.readline())
    assert alive(child)
    launcher.send_signal(signal.SIGKILL)
    launcher.wait(10)
    launcher.stdout.close()
    assert wait_gone([child]) == []
