"""`make bench`: the portal under gunicorn with production settings, measured with wrk.

What it does, every run from scratch:

1. a temporary SQLite database (or ``--database-url`` / ``BENCH_DATABASE_URL``: a
   PostgreSQL database of the bench's own, whose public schema it drops), a generated
   ``SECRET_KEY`` and ``TOKEN_ENCRYPTION_KEYS``, ``ZOOM_SIMULATOR=1`` (a demo's
   simulated Zoom; Join never calls it here) and no ``FLASK_DEBUG``: production mode,
   Secure ``__Host-`` cookies and all;
2. migrations, then seed data: a center with Virtual Meetings on, a tutor with an
   active Zoom connection and today's Daily Session, a student with an online
   appointment that is open now;
3. ``gunicorn -w 2`` three times: the portal (``wsgi:app``), a bare Flask app that
   answers "ok" (``bench.bare_app:app``, the ceiling of this stack on this machine),
   and on SQLite a second portal with ``SQLITE_SYNCHRONOUS=normal``;
4. a real login through the login form, one Join to check the redirect and get the
   device-id cookie a browser would keep;
5. warm-ups, then alternating rounds of ``wrk -t2 -c50 -d10s --latency``: the bare app,
   ``/healthz`` (no cookie), Join as the student (and Join on the NORMAL server);
6. the kill test: Join driven for 6 s with one worker SIGKILLed halfway, Joins
   answered against JoinEvents recorded;
7. prints requests/s, latencies, the ratios and checks, and rewrites the SQLite or
   PostgreSQL results block of BENCHMARKS.md.

    .venv/bin/python bench/run.py [--duration 10] [--rounds 3] [--database-url URL]

wrk comes from Debian: ``apt-get install -y wrk``.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
BIN = os.path.join(ROOT, ".venv", "bin")
RESULTS = os.path.join(ROOT, "BENCHMARKS.md")
START, END = "<!-- bench:join:start -->", "<!-- bench:join:end -->"
PG_START, PG_END = "<!-- bench:join:postgresql:start -->", "<!-- bench:join:postgresql:end -->"
JOIN_URL = "https://us05web.zoom.us/j/85746065432?pwd=bench"
PASSWORD = "bench-password-123"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp, database_url=None):
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "ZOOM_"))}
    env.update(
        DATABASE_URL=database_url or f"sqlite:///{tmp}/bench.db",
        SECRET_KEY=secrets.token_urlsafe(48),
        TOKEN_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ZOOM_SIMULATOR="1",  # production mounts the simulator only when asked (a demo)
        INSTANCE_PATH=os.path.join(tmp, "instance"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("DATABASE_URL_TEST", None)
    env.pop("SESSION_COOKIE_SECURE", None)
    return env


def run_python(code, env):
    """Run code with the venv's Python in env; return its stdout (stderr shown on failure)."""
    out = subprocess.run(
        [os.path.join(BIN, "python"), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"bench helper failed:\n{out.stderr}")
    return out.stdout


def seed(env):
    """Migrate and create the bench world in a child process (no connection survives here).

    On PostgreSQL the database's public schema is dropped first: give the bench a
    database of its own.
    """
    code = f"""
import datetime, json
from portal import create_app
app = create_app()
from portal import accounts, daily
from portal.db import database, is_sqlite
from portal.migrate import upgrade
from portal.models import Appointment, DailySession, ZoomConnection, utcnow
if not is_sqlite():
    with database.connection_context():
        database.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
        database.execute_sql("CREATE SCHEMA public")
with database.connection_context():
    upgrade()
    center = accounts.create_center("Bench Center", "America/New_York")
    accounts.update_center_settings(center, None, virtual_meetings_enabled=True)
    tutor = accounts.create_user("tutor@bench.edu", "Bench Tutor", "tutor", {PASSWORD!r}, [center])
    student = accounts.create_user(
        "student@bench.edu", "Bench Student", "student", {PASSWORD!r}, [center])
    ZoomConnection.create(tutor=tutor, zoom_user_id="bench-zoom-user", email="tutor@bench.edu")
    DailySession.create(tutor=tutor, center=center, date=daily.center_today(center),
        status="scheduled", zoom_meeting_id=85746065432, join_url={JOIN_URL!r})
    now = utcnow()
    appt = Appointment.create(student=student, tutor=tutor, center=center, kind="online",
        start_at=now - datetime.timedelta(minutes=1), end_at=now + datetime.timedelta(hours=3))
    print(json.dumps({{"appointment": appt.id, "tutor": tutor.id}}))
"""
    return json.loads(run_python(code, env).strip().splitlines()[-1])


def start_gunicorn(env, port, log_path, app="wsgi:app", probe="/healthz"):
    log = open(log_path, "w")  # noqa: SIM115 - closed by the caller through the process
    proc = subprocess.Popen(
        [
            os.path.join(BIN, "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited early; see {log_path}")
        try:
            status, _, _ = request(port, "GET", probe)
            if status == 200:
                return proc, log
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"gunicorn did not answer {probe} within 30 s")


def request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        return response.status, response.headers, data
    finally:
        conn.close()


def cookies_from(headers, jar):
    """Keep name=value of every Set-Cookie (Secure cookies included: this is not a browser)."""
    for raw in headers.get_all("Set-Cookie") or []:
        name, _, rest = raw.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def log_in(port):
    from urllib.parse import urlencode

    jar = {}
    status, headers, html = request(port, "GET", "/login")
    cookies_from(headers, jar)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    body = urlencode({"email": "student@bench.edu", "password": PASSWORD, "csrf_token": token})
    status, headers, _ = request(
        port,
        "POST",
        "/login",
        {
            "Cookie": cookie_header(jar),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body,
    )
    if status != 303:
        raise SystemExit(f"login failed with HTTP {status}")
    return cookies_from(headers, {})


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url, duration, connections, cookie=None):
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    result = {"raw": out}
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    for pct in ("50", "75", "90", "99"):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        result[f"p{pct}"] = float(value) * UNITS[unit]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx_3xx"] = int(bad.group(1)) if bad else 0
    errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = errors.group(1).strip() if errors else "none"
    return result


def median_run(runs):
    """The run with the median requests/s (its latencies come with it), plus every round."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["rounds"] = [r["rps"] for r in runs]
    chosen["non_2xx_3xx"] = sum(r["non_2xx_3xx"] for r in runs)
    return chosen


def join_events(env):
    code = """
from portal import create_app
from portal.db import database
from portal.models import JoinEvent
create_app()
with database.connection_context():
    print(JoinEvent.select().count())
"""
    return int(run_python(code, env).strip().splitlines()[-1])


def environment():
    from portal.db import CySqliteDatabase

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": ".".join(map(str, CySqliteDatabase.server_version[:3])),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1],
        "gunicorn": subprocess.run(
            [os.path.join(BIN, "gunicorn"), "--version"], capture_output=True, text=True
        )
        .stdout.split()[-1]
        .strip(")"),
    }


def ratio_of(a, b):
    """Median over rounds of a's requests/s divided by b's (rounds alternate)."""
    per_round = [x / y for x, y in zip(a["rounds"], b["rounds"], strict=True) if y]
    return (sorted(per_round)[len(per_round) // 2] if per_round else 0.0), per_round


LABELS = {
    "bare": "bare Flask app `/` (same gunicorn)",
    "healthz": "portal `/healthz` (no cookie)",
    "join": "`/join/appointment/<id>` (student)",
    "join_normal": "Join with `SQLITE_SYNCHRONOUS=normal`",
}


def report(results, checks, env_facts, args, kind):
    bare, h, j = results["bare"], results["healthz"], results["join"]
    h_ratio, h_rounds = ratio_of(h, bare)
    j_ratio, j_rounds = ratio_of(j, h)
    goal = h_ratio >= 0.75 and j_ratio >= 0.60 and j["p99"] < 60
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    database = (
        f"SQLite {env_facts['sqlite']} (cysqlite, WAL, synchronous=FULL)"
        if kind == "sqlite"
        else "PostgreSQL (local, pooled connections)"
    )
    lines = [
        f"Last run: {when} · {env_facts['cpus']} CPUs (shared with wrk) · load average "
        f"{checks['load_before']} before, {checks['load_after']} after · Python "
        f"{env_facts['python']} · {database} · gunicorn {env_facts['gunicorn']} (2 sync "
        f"workers) · wrk {env_facts['wrk']} (-t2 -c{args.connections} -d{args.duration}s, "
        f"{args.rounds} alternating rounds, medians shown)",
        "",
        "| route | requests/s (median) | each round | p50 | p75 | p90 | p99 | non-2xx/3xx |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        rounds = " / ".join(f"{x:.0f}" for x in r["rounds"])
        lines.append(
            f"| {LABELS[name]} | {r['rps']:.0f} | {rounds} | {r['p50']:.1f} ms | "
            f"{r['p75']:.1f} ms | {r['p90']:.1f} ms | {r['p99']:.1f} ms | {r['non_2xx_3xx']} |"
        )
    lines += [
        "",
        f"**`/healthz` / bare app: {h_ratio:.0%}** (rounds: "
        f"{' / '.join(f'{x:.0%}' for x in h_rounds)}; goal ≥ 75 %) · "
        f"**Join / `/healthz`: {j_ratio:.0%}** (rounds: "
        f"{' / '.join(f'{x:.0%}' for x in j_rounds)}; goal ≥ 60 %) · Join p99 "
        f"{j['p99']:.1f} ms (goal < 60 ms) · **goals {'met' if goal else 'NOT met'}**.",
    ]
    if "join_normal" in results:
        n_ratio, _ = ratio_of(results["join_normal"], j)
        lines.append(
            f"`synchronous=NORMAL` / `FULL` for Join: {n_ratio:.0%} "
            f"(p99 {results['join_normal']['p99']:.1f} ms against {j['p99']:.1f} ms)."
        )
    lines += [
        "",
        f"Checks: {checks['events']} JoinEvents committed for {checks['joins']} Joins answered "
        f"(wrk counts completed responses only) · 'database is locked' in the server log: "
        f"{checks['locked']} · socket errors: {j['socket_errors']} (Join), "
        f"{h['socket_errors']} (healthz).",
        "",
        f"Kill test: Join driven for {checks['kill']['seconds']} s while one worker was "
        f"killed with SIGKILL halfway: **{checks['kill']['answered']} Joins answered, "
        f"{checks['kill']['recorded']} recorded** ({checks['kill']['verdict']}).",
    ]
    return "\n".join(lines), goal


def write_results(text, kind):
    start, end = (START, END) if kind == "sqlite" else (PG_START, PG_END)
    block = f"{start}\n{text}\n{end}"
    if os.path.exists(RESULTS):
        with open(RESULTS) as fh:
            current = fh.read()
        if start in current and end in current:
            head, _, rest = current.partition(start)
            _, _, tail = rest.partition(end)
            new = head + block + tail
        else:
            new = current.rstrip() + "\n\n" + block + "\n"
    else:
        new = "# Benchmarks\n\n" + block + "\n"
    with open(RESULTS, "w") as fh:
        fh.write(new)


def workers_of(master_pid):
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def kill_test(url, cookie, proc, env, seconds=6):
    """Drive Join with wrk, SIGKILL one worker halfway; answered against recorded."""
    import signal
    import threading

    before = join_events(env)
    result = {}
    runner = threading.Thread(target=lambda: result.update(wrk(url, seconds, 8, cookie)))
    runner.start()
    time.sleep(seconds / 2)
    victim = workers_of(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    runner.join()
    recorded = join_events(env) - before
    answered = result["requests"] - result["non_2xx_3xx"]
    verdict = (
        "equal"
        if recorded == answered
        else (
            "every answered Join recorded; "
            f"{recorded - answered} more committed whose answer was cut off by the kill"
            if recorded > answered
            else f"{answered - recorded} answered Joins LOST"
        )
    )
    return {"seconds": seconds, "answered": answered, "recorded": recorded, "verdict": verdict}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; medians reported")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a PostgreSQL database of the bench's own (its public schema is dropped)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    tmp = tempfile.mkdtemp(prefix="vmp-bench-")
    env = production_env(tmp, args.database_url)
    kind = "sqlite" if env["DATABASE_URL"].startswith("sqlite") else "postgresql"
    print(f"seeding {kind} …", flush=True)
    world = seed(env)
    servers = {}
    checks = {"load_before": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    try:
        port = free_port()
        servers["portal"] = (port, *start_gunicorn(env, port, os.path.join(tmp, "portal.log")))
        bare_port = free_port()
        servers["bare"] = (
            bare_port,
            *start_gunicorn(
                env, bare_port, os.path.join(tmp, "bare.log"), "bench.bare_app:app", "/"
            ),
        )
        if kind == "sqlite":
            normal_port = free_port()
            normal_env = dict(env, SQLITE_SYNCHRONOUS="normal")
            servers["normal"] = (
                normal_port,
                *start_gunicorn(normal_env, normal_port, os.path.join(tmp, "normal.log")),
            )
        jar = log_in(port)
        path = f"/join/appointment/{world['appointment']}"
        status, headers, _ = request(port, "GET", path, {"Cookie": cookie_header(jar)})
        if status != 303 or not headers.get("Location", "").startswith(JOIN_URL):
            raise SystemExit(f"Join answered {status} {headers.get('Location')}, not the session")
        cookies_from(headers, jar)  # the device-id cookie a browser keeps
        cookie = cookie_header(jar)
        urls = {
            "bare": (f"http://127.0.0.1:{bare_port}/", None),
            "healthz": (f"http://127.0.0.1:{port}/healthz", None),
            "join": (f"http://127.0.0.1:{port}{path}", cookie),
        }
        if "normal" in servers:
            urls["join_normal"] = (f"http://127.0.0.1:{servers['normal'][0]}{path}", cookie)
        joins = 1
        for name, (url, sent) in urls.items():  # warm every route (and worker) first
            warm = wrk(url, args.warmup, args.connections, sent)
            joins += warm["requests"] if name.startswith("join") else 0
            print(f"{name}: warm-up {warm['rps']:.0f} req/s", flush=True)
        runs = {name: [] for name in urls}
        for round_no in range(1, args.rounds + 1):
            for name, (url, sent) in urls.items():
                r = wrk(url, args.duration, args.connections, sent)
                runs[name].append(r)
                joins += r["requests"] if name.startswith("join") else 0
                print(
                    f"round {round_no} {name}: {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, "
                    f"p99 {r['p99']:.2f} ms, non-2xx/3xx {r['non_2xx_3xx']}, "
                    f"socket errors {r['socket_errors']}",
                    flush=True,
                )
        results = {name: median_run(rs) for name, rs in runs.items()}
        checks["events"] = join_events(env)
        checks["joins"] = joins
        checks["kill"] = kill_test(urls["join"][0], cookie, servers["portal"][1], env)
        print(f"kill test: {checks['kill']}", flush=True)
        checks["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    finally:
        for _port, proc, log in servers.values():
            proc.terminate()
            proc.wait(15)
            log.close()
    with open(os.path.join(tmp, "portal.log")) as fh:
        checks["locked"] = fh.read().count("database is locked")
    text, goal = report(results, checks, environment(), args, kind)
    print()
    print(text)
    if not args.no_write:
        write_results(text, kind)
        print(f"\nwrote {RESULTS}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
