"""Cluster benchmark (issue 16): ``make cluster``'s world, measured side by side in one run.

1. **Join through 1 server against 2.** The cluster of ``portal.cluster`` (2 gunicorn portals
   with 2 workers each, 2 huey consumers on Redis, the Zoom simulator) on a PostgreSQL database
   of the benchmark's own. A student with an online appointment open now, its tutor's Daily
   Session seeded. In alternating rounds: ``wrk -t2 -c50`` at server A alone, then two
   ``wrk -t2 -c25`` at A and B at once (the same 50 connections). Reported: requests/s of
   each, the ratio 2 servers ÷ 1 (on 2 cores expect near 1.0×: the point is that nothing
   serializes across servers), JoinEvents committed against Joins answered, and
   "database is locked" or tracebacks in every log.
2. **Health scan over 1 consumer against 2.** ``--tutors`` (2,000) connected tutors, each on
   a Zoom account of its own, with today's Daily Session, ``--latency`` (100 ms) added to every
   simulated Zoom call. "Run health check now" is queued to the consumers; the time from the
   queueing to the scan's end, with only jobs-1 running, then with jobs-1 and jobs-2 (goal
   ≥ 1.7×). The simulator's ``/control/stats`` gives the peak requests per second per Zoom
   account (≤ ``HEALTH_ZOOM_RATE``) and its 429s (0).

    .venv/bin/python bench/cluster.py [--no-write] [--only join|scan] [--tutors 2000]

Needs PostgreSQL (``CLUSTER_POSTGRES_URL``, default the local server) and Redis
(``CLUSTER_BENCH_REDIS_URL``, default db 3 of the local one, emptied); without them it says
so and exits 0. Results replace the cluster block of BENCHMARKS.md (between its markers).
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import cookie_header, cookies_from, free_port, request, wrk  # noqa: E402

from portal import cluster as clustermod  # noqa: E402

RESULTS = os.path.join(ROOT, "BENCHMARKS.md")
START, END = "<!-- bench:cluster:start -->", "<!-- bench:cluster:end -->"
PASSWORD = "bench-password-123"
DATABASE = "vmp_cluster_bench"
JOIN_URL = "https://us05web.zoom.us/j/85746065432?pwd=bench"


def make_app(cluster_env, zoom):
    """An app in this process on the cluster's database, queue, keys and simulated Zoom."""
    from portal import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": cluster_env["SECRET_KEY"],
            "DATABASE_URL": cluster_env["DATABASE_URL"],
            "TOKEN_ENCRYPTION_KEYS": cluster_env["TOKEN_ENCRYPTION_KEYS"],
            "HUEY_REDIS_URL": cluster_env["HUEY_REDIS_URL"],
            "ZOOM_SIMULATOR": False,
            **{k: v for k, v in cluster_env.items() if k.startswith("ZOOM_")},
        }
    )
    app.extensions["zoom_sim"] = zoom  # health_seed.seed_scan grants tokens on Zoom's side
    return app


def in_app(app, fn):
    """Run fn(app) with the app's context and a database connection, closed after."""
    from portal.db import database

    with app.app_context(), database.connection_context():
        return fn(app)


def seed_join(app):
    from portal import accounts, daily
    from portal.models import Appointment, DailySession, ZoomConnection, utcnow

    center = accounts.create_center("Bench Center", "America/New_York")
    accounts.update_center_settings(center, None, virtual_meetings_enabled=True)
    tutor = accounts.create_user("tutor@bench.edu", "Bench Tutor", "tutor", PASSWORD, [center])
    student = accounts.create_user(
        "student@bench.edu", "Bench Student", "student", PASSWORD, [center]
    )
    ZoomConnection.create(tutor=tutor, zoom_user_id="bench-zoom-user", email="tutor@bench.edu")
    DailySession.create(
        tutor=tutor,
        center=center,
        date=daily.center_today(center),
        status="scheduled",
        zoom_meeting_id=85746065432,
        join_url=JOIN_URL,
    )
    now = utcnow()
    appointment = Appointment.create(
        student=student,
        tutor=tutor,
        center=center,
        kind="online",
        start_at=now - datetime.timedelta(minutes=1),
        end_at=now + datetime.timedelta(hours=3),
    )
    return appointment.id


def join_events(app):
    from portal.models import JoinEvent

    return in_app(app, lambda app: JoinEvent.select().count())


def log_in(port):
    from urllib.parse import urlencode

    jar = {}
    _status, headers, html = request(port, "GET", "/login")
    cookies_from(headers, jar)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    body = urlencode({"email": "student@bench.edu", "password": PASSWORD, "csrf_token": token})
    status, headers, _ = request(
        port,
        "POST",
        "/login",
        {"Cookie": cookie_header(jar), "Content-Type": "application/x-www-form-urlencoded"},
        body,
    )
    if status != 303:
        raise SystemExit(f"login failed with HTTP {status}")
    return cookies_from(headers, {})


class Load:
    """While a phase runs: the most connections PostgreSQL held for the cluster's database
    (``pg_stat_activity``, sampled every 0.25 s) and the commands Redis processed."""

    def __init__(self, server, database, redis_url):
        import psycopg2
        import redis

        self.pg = psycopg2.connect(clustermod.database_url(server, "postgres"))
        self.pg.autocommit = True
        self.redis = redis.Redis.from_url(redis_url)
        self.database = database
        self.peak = 0
        self.stop = threading.Event()

    def connections(self):
        with self.pg.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.database,)
            )
            return cur.fetchone()[0]

    def commands(self):
        return int(self.redis.info("stats")["total_commands_processed"])

    def __enter__(self):
        self.peak, self.started, self.before = 0, time.monotonic(), self.commands()
        self.stop.clear()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.stop.wait(0.25):
            self.peak = max(self.peak, self.connections())

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.seconds = time.monotonic() - self.started
        self.redis_commands = self.commands() - self.before - 1  # less INFO itself

    def figures(self):
        return {
            "pg_peak": self.peak,
            "redis_commands": self.redis_commands,
            "redis_per_second": self.redis_commands / self.seconds if self.seconds else 0.0,
        }

    def close(self):
        self.pg.close()
        self.redis.close()


def wrk_together(urls, duration, connections, cookie):
    """wrk at every URL at once, ``connections`` split between them; the results."""
    results = [None] * len(urls)

    def run(n, url):
        results[n] = wrk(url, duration, connections // len(urls), cookie)

    threads = [threading.Thread(target=run, args=(n, u)) for n, u in enumerate(urls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def bench_join(cluster, app, load, args):
    appointment = in_app(app, seed_join)
    a, b = cluster.ports
    path = f"/join/appointment/{appointment}"
    jar = log_in(a)
    for port in (a, b):  # the same session on both servers: one database holds it
        status, headers, _ = request(port, "GET", path, {"Cookie": cookie_header(jar)})
        if status != 303 or not headers.get("Location", "").startswith(JOIN_URL):
            raise SystemExit(f"Join on {port} answered {status} {headers.get('Location')}")
        cookies_from(headers, jar)
    cookie = cookie_header(jar)
    one = [f"http://127.0.0.1:{a}{path}"]
    two = [f"http://127.0.0.1:{a}{path}", f"http://127.0.0.1:{b}{path}"]
    answered = 2
    for urls in (one, two):
        answered += sum(r["requests"] for r in wrk_together(urls, args.warmup, 50, cookie))
    rounds = {"one": [], "two": []}
    with load:
        for n in range(1, args.rounds + 1):
            for name, urls in (("one", one), ("two", two)):
                results = wrk_together(urls, args.duration, 50, cookie)
                rps = sum(r["rps"] for r in results)
                answered += sum(r["requests"] - r["non_2xx_3xx"] for r in results)
                bad = sum(r["non_2xx_3xx"] for r in results)
                rounds[name].append({"rps": rps, "bad": bad, "parts": [r["rps"] for r in results]})
                print(
                    f"round {n}, {name} server(s): {rps:.0f} Joins/s (non-2xx/3xx {bad})",
                    flush=True,
                )
    time.sleep(1)  # each worker's JoinEvent writer flushes within 20 ms; give it a second
    recorded = join_events(app)
    logs = "".join(cluster.log_text(name) for name in cluster.server_names())
    ratios = [t["rps"] / o["rps"] for o, t in zip(rounds["one"], rounds["two"], strict=True)]
    return {
        "rounds": rounds,
        "ratios": ratios,
        "ratio": sorted(ratios)[len(ratios) // 2],
        "answered": answered,
        "recorded": recorded,
        "locked": logs.count("database is locked"),
        "tracebacks": logs.count("Traceback"),
        **load.figures(),
    }


def scan_once(app, what):
    """Queue "Run health check now" for every center; wait for that scan; its row."""
    from portal.health import runs
    from portal.models import HealthScan

    while True:
        scan, started = in_app(app, lambda app: runs.start(app, None, None, "manual"))
        scan_id = scan.id
        while True:
            row = in_app(app, lambda app, scan_id=scan_id: HealthScan.get_by_id(scan_id))
            if row.status in (HealthScan.DONE, HealthScan.FAILED):
                break
            time.sleep(0.2)
        if started:  # else a scheduled scan held the lease: that one is done, go again
            break
    if row.status != HealthScan.DONE:
        raise SystemExit(f"the scan with {what} failed: {row.error}")
    return row


def bench_scan(cluster, app, load, args):
    from health_seed import seed_scan

    print(f"seeding {args.tutors} connected tutors …", flush=True)
    in_app(app, lambda app: seed_scan(app, args.tutors))
    cluster.zoom.set_latency(args.latency)
    results = {}
    for count in (1, 2):
        cluster.stop_consumers()
        cluster.start_consumers(count)
        cluster.reset_zoom_stats()
        with load:
            row = scan_once(app, f"{count} consumer(s)")
        stats = cluster.zoom_stats()
        seconds = (row.finished_at - row.created_at).total_seconds()
        accounts = stats["accounts"].values()
        results[count] = {
            "seconds": seconds,
            "calls": row.calls,
            "tutors": row.total,
            "unchecked": row.unchecked,
            "peak": max((a["peak_per_second"] for a in accounts), default=0),
            "rate_limited": stats["rate_limited"],
            "requests": stats["requests"],
            **load.figures(),
        }
        print(f"scan with {count} consumer(s): {results[count]}", flush=True)
    cluster.zoom.set_latency(0)
    return results


def report_scan(r, args):
    one, two = r[1], r[2]
    speedup = one["seconds"] / two["seconds"] if two["seconds"] else 0.0
    peak = max(one["peak"], two["peak"])
    limited = one["rate_limited"] + two["rate_limited"]
    goal = speedup >= 1.7 and peak <= args.rate and limited == 0
    return (
        f"**Health scan, 1 consumer against 2**: {args.tutors:,} connected tutors, each their "
        f"own Zoom account ({one['tutors']:,} tutors checked in all), "
        f"{args.latency * 1000:.0f} ms added to every simulated Zoom call, "
        f"`HEALTH_SCAN_CONCURRENCY={args.concurrency}` per consumer, "
        f"`HEALTH_ZOOM_RATE={args.rate:g}`/s per account (shared through Redis): jobs-1 alone "
        f"**{one['seconds']:.1f} s** ({one['calls']:,} calls, {one['unchecked']} unchecked), "
        f"jobs-1 and jobs-2 **{two['seconds']:.1f} s** ({two['calls']:,} calls, "
        f"{two['unchecked']} unchecked) → **{speedup:.2f}×** (goal ≥ 1.7×). Peak requests in "
        f"one second to one Zoom account, as the simulator counted them: **{peak}** (limit "
        f"{args.rate:g}); 429s answered: **{limited}**. Goal **{'met' if goal else 'NOT met'}**. "
        f"PostgreSQL connections to the database at most {one['pg_peak']} (1 consumer) and "
        f"{two['pg_peak']} (2); Redis commands {one['redis_commands']:,} "
        f"({one['redis_per_second']:.0f}/s) and {two['redis_commands']:,} "
        f"({two['redis_per_second']:.0f}/s)."
    )


def median(values):
    return sorted(values)[len(values) // 2]


def report_join(r, args):
    one = median([x["rps"] for x in r["rounds"]["one"]])
    two = median([x["rps"] for x in r["rounds"]["two"]])
    each = " / ".join(
        f"{o['rps']:.0f} → {t['rps']:.0f}"
        for o, t in zip(r["rounds"]["one"], r["rounds"]["two"], strict=True)
    )
    lost = r["answered"] - r["recorded"]
    verdict = "none lost" if lost <= 0 else f"**{lost} answered Joins LOST**"
    bad = sum(x["bad"] for rs in r["rounds"].values() for x in rs)
    return (
        f"**Join, 1 server against 2** (wrk -t2, 50 connections in all, {args.duration} s × "
        f"{args.rounds} alternating rounds): server A alone **{one:.0f} Joins/s**, A and B "
        f"together **{two:.0f} Joins/s** → **{r['ratio']:.2f}×** (rounds, 1 → 2 servers: "
        f"{each}; ratios {' / '.join(f'{x:.2f}' for x in r['ratios'])}). "
        f"{r['recorded']} JoinEvents committed for {r['answered']} Joins answered ({verdict}); "
        f"non-2xx/3xx answers: {bad}; 'database is locked' in the servers' logs: "
        f"{r['locked']}; tracebacks: {r['tracebacks']}. PostgreSQL connections to the "
        f"database at most {r['pg_peak']}; Redis commands {r['redis_commands']:,} "
        f"({r['redis_per_second']:.0f}/s)."
    )


def write_results(text):
    block = f"{START}\n{text}\n{END}"
    with open(RESULTS) as fh:
        current = fh.read()
    if START in current and END in current:
        head, _, rest = current.partition(START)
        _, _, tail = rest.partition(END)
        new = head + block + tail
    else:
        new = current.rstrip() + "\n\n## Cluster (issue 16)\n\n" + block + "\n"
    with open(RESULTS, "w") as fh:
        fh.write(new)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tutors", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per Zoom call")
    parser.add_argument("--concurrency", type=int, default=8, help="HEALTH_SCAN_CONCURRENCY")
    parser.add_argument("--rate", type=float, default=10.0, help="HEALTH_ZOOM_RATE per account")
    parser.add_argument("--only", choices=("join", "scan"))
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    server = os.environ.get("CLUSTER_POSTGRES_URL", clustermod.POSTGRES_URL)
    redis_url = os.environ.get("CLUSTER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    problem = clustermod.postgres_problem(server) or clustermod.redis_problem(redis_url)
    if problem:
        print(f"bench/cluster.py skipped: it needs PostgreSQL and Redis: {problem}.")
        return 0
    if args.only != "scan" and shutil.which("wrk") is None:
        print("bench/cluster.py skipped: wrk is not installed (apt-get install -y wrk).")
        return 0

    folder = tempfile.mkdtemp(prefix="vmp-cluster-bench-")
    url = clustermod.ensure_database(server, DATABASE, fresh=True)
    clustermod.flush_redis(redis_url)
    ports = sorted({free_port() for _ in range(3)})
    extra = {"HEALTH_SCAN_CONCURRENCY": args.concurrency, "HEALTH_ZOOM_RATE": args.rate}
    cluster = clustermod.Cluster(folder, url, redis_url, ports=ports, extra_env=extra)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    parts = []
    load = None
    try:
        cluster.prepare()
        cluster.start()
        app = make_app(cluster.env, cluster.zoom)
        load = Load(server, DATABASE, redis_url)
        if args.only != "scan":
            parts.append(report_join(bench_join(cluster, app, load, args), args))
        if args.only != "join":
            parts.append(report_scan(bench_scan(cluster, app, load, args), args))
    finally:
        cluster.stop()
        if load is not None:
            load.close()
        clustermod.drop_database(server, DATABASE)
        clustermod.flush_redis(redis_url)
    load_after = " ".join(f"{x:.1f}" for x in os.getloadavg())
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    gunicorn = subprocess.run(
        [os.path.join(clustermod.BIN, "gunicorn"), "--version"], capture_output=True, text=True
    ).stdout.split()[-1]
    head = (
        f"Last run: {when} · {os.cpu_count()} CPUs (shared by wrk, both servers, both consumers, "
        f"PostgreSQL, Redis and the simulator) · load average {load_before} before, "
        f"{load_after} after · Python {platform.python_version()} · gunicorn "
        f"{gunicorn.strip('()')} · `.venv/bin/python bench/cluster.py`"
    )
    text = "\n\n".join([head, *parts])
    print()
    print(text)
    if not args.no_write:
        write_results(text)
        print(f"\nwrote {RESULTS}")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
