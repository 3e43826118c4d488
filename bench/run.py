"""`make bench`: the portal under gunicorn with production settings, measured with wrk.

What it does, every run from scratch:

1. a temporary SQLite database (``DATABASE_URL``), a generated ``SECRET_KEY`` and
   ``TOKEN_ENCRYPTION_KEYS``, no ``ZOOM_CLIENT_ID`` and ``ZOOM_SIMULATOR=1`` (so the Zoom simulator is
   mounted, as for a demo) and no ``FLASK_DEBUG`` — production
   mode, Secure ``__Host-`` cookies and all;
2. migrations, then seed data: a center with Virtual Meetings on, a tutor with an
   active Zoom connection and today's Daily Session, a student with an online
   appointment that is open now;
3. ``gunicorn -w 2 wsgi:app`` (the production entry point; sync workers);
4. a real login through the login form (CSRF token, session cookie), one Join to
   check the redirect and get the device-id cookie a browser would keep;
5. per scenario, a short wrk warm-up, then ``wrk -t2 -c50 -d10s --latency``;
   ``/healthz`` without a cookie (a load balancer's probe: the trivial baseline)
   and ``/join/appointment/<id>`` as the logged-in student, in the same run;
6. prints requests/s, p50/p99, the Join/healthz ratio and the checks (every
   Join wrote its JoinEvent; no 5xx, no socket errors, no "database is locked"),
   and rewrites the results block of BENCHMARKS.md.

    .venv/bin/python bench/run.py [--duration 10] [--connections 50] [--no-write]

Later issues add scenarios to ``SCENARIOS`` (a path builder and whether it needs
the student's cookies). wrk comes from Debian: ``apt-get install -y wrk``.
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
JOIN_URL = "https://us05web.zoom.us/j/85746065432?pwd=bench"
PASSWORD = "bench-password-123"

# name -> (path builder taking the seed dict, send the student's cookies?)
SCENARIOS = {
    "healthz": (lambda seed: "/healthz", False),
    "join": (lambda seed: f"/join/appointment/{seed['appointment']}", True),
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp):
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "ZOOM_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp}/bench.db",
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
    """Migrate and create the bench world in a child process (no connection survives here)."""
    code = f"""
import datetime, json
from portal import create_app
app = create_app()
from portal import accounts, daily
from portal.db import database
from portal.migrate import upgrade
from portal.models import Appointment, DailySession, ZoomConnection, utcnow
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


def start_gunicorn(env, port, log_path):
    log = open(log_path, "w")  # noqa: SIM115 - closed by the caller through the process
    proc = subprocess.Popen(
        [
            os.path.join(BIN, "gunicorn"),
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
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
            status, _, _ = request(port, "GET", "/healthz")
            if status == 200:
                return proc, log
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


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


def report(results, checks, env_facts, args):
    h, j = results["healthz"], results["join"]
    per_round = [jr / hr for jr, hr in zip(j["rounds"], h["rounds"], strict=True) if hr]
    ratio = sorted(per_round)[len(per_round) // 2] if per_round else 0.0
    goal = ratio >= 0.5 and j["p99"] < 100
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Last run: {when} · {env_facts['cpus']} CPUs (shared with wrk) · Python "
        f"{env_facts['python']} · SQLite {env_facts['sqlite']} (cysqlite, WAL, synchronous=FULL) "
        f"· gunicorn {env_facts['gunicorn']} (2 sync workers) · wrk {env_facts['wrk']} "
        f"(-t2 -c{args.connections} -d{args.duration}s, {args.rounds} alternating rounds, "
        f"medians shown)",
        "",
        "| route | requests/s (median) | each round | p50 | p75 | p90 | p99 | non-2xx/3xx |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in (("`/healthz` (no cookie)", h), ("`/join/appointment/<id>` (student)", j)):
        rounds = " / ".join(f"{x:.0f}" for x in r["rounds"])
        lines.append(
            f"| {name} | {r['rps']:.0f} | {rounds} | {r['p50']:.1f} ms | {r['p75']:.1f} ms | "
            f"{r['p90']:.1f} ms | {r['p99']:.1f} ms | {r['non_2xx_3xx']} |"
        )
    rounds = " / ".join(f"{x:.0%}" for x in per_round)
    lines += [
        "",
        f"**Join / healthz throughput: {ratio:.0%}** (median of the rounds: {rounds}; "
        f"goal ≥ 50 %) · Join p99 {j['p99']:.1f} ms (goal < 100 ms) · "
        f"**goal {'met' if goal else 'NOT met'}**.",
        "",
        f"Checks: {checks['events']} JoinEvents written for {checks['joins']} Joins answered "
        f"(wrk counts completed responses only) · 'database is locked' in the server log: "
        f"{checks['locked']} · socket errors: {j['socket_errors']} (Join), "
        f"{h['socket_errors']} (healthz).",
    ]
    return "\n".join(lines), ratio, goal


def write_results(text):
    block = f"{START}\n{text}\n{END}"
    if os.path.exists(RESULTS):
        with open(RESULTS) as fh:
            current = fh.read()
        if START in current and END in current:
            head, _, rest = current.partition(START)
            _, _, tail = rest.partition(END)
            new = head + block + tail
        else:
            new = current.rstrip() + "\n\n" + block + "\n"
    else:
        new = "# Benchmarks\n\n" + block + "\n"
    with open(RESULTS, "w") as fh:
        fh.write(new)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs; medians reported")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    tmp = tempfile.mkdtemp(prefix="vmp-bench-")
    env = production_env(tmp)
    port = free_port()
    log_path = os.path.join(tmp, "gunicorn.log")
    print(f"seeding {env['DATABASE_URL']} …", flush=True)
    world = seed(env)
    proc, log = start_gunicorn(env, port, log_path)
    try:
        jar = log_in(port)
        path = SCENARIOS["join"][0](world)
        status, headers, _ = request(port, "GET", path, {"Cookie": cookie_header(jar)})
        if status != 303 or headers.get("Location") != JOIN_URL:
            raise SystemExit(f"Join answered {status} {headers.get('Location')}, not the session")
        cookies_from(headers, jar)  # the device-id cookie a browser keeps
        cookie = cookie_header(jar)
        base = f"http://127.0.0.1:{port}"
        urls = {
            name: (base + build(world), cookie if with_cookie else None)
            for name, (build, with_cookie) in SCENARIOS.items()
        }
        joins = 1
        for name, (url, sent) in urls.items():  # warm every route (and worker) first
            warm = wrk(url, args.warmup, args.connections, sent)
            joins += warm["requests"] if name == "join" else 0
            print(f"{name}: warm-up {warm['rps']:.0f} req/s", flush=True)
        runs = {name: [] for name in urls}
        for round_no in range(1, args.rounds + 1):
            for name, (url, sent) in urls.items():
                r = wrk(url, args.duration, args.connections, sent)
                runs[name].append(r)
                joins += r["requests"] if name == "join" else 0
                print(
                    f"round {round_no} {name}: {r['rps']:.0f} req/s, p50 {r['p50']:.2f} ms, "
                    f"p99 {r['p99']:.2f} ms, non-2xx/3xx {r['non_2xx_3xx']}, "
                    f"socket errors {r['socket_errors']}",
                    flush=True,
                )
        results = {name: median_run(rs) for name, rs in runs.items()}
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    with open(log_path) as fh:
        server_log = fh.read()
    checks = {
        "events": join_events(env),
        "joins": joins,
        "locked": server_log.count("database is locked"),
    }
    text, ratio, goal = report(results, checks, environment(), args)
    print()
    print(text)
    if not args.no_write:
        write_results(text)
        print(f"\nwrote {RESULTS}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
