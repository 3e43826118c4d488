"""Health benchmark (issue 6): the scan, the database checks and the dashboard.

1. **Scan.** ``--scan-tutors`` (2,000) connected tutors, each with today's Daily
   Session, on the Zoom simulator (mounted in-process through the WSGI transport)
   with ``--latency`` (100 ms) added to every Zoom call. The scan runs with
   ``--concurrency`` workers and ``--rate`` calls/s per Zoom account. Reported: wall
   time against the ideal ``calls ÷ min(concurrency ÷ latency, accounts × rate)``
   (goal ≥ 70 %), and against a sequential scan (one worker) measured in the same run
   on ``--sequential-sample`` tutors and scaled per call (goal ≥ 10×). A second,
   rate-bound scenario puts ``--shared-tutors`` tutors on ``--shared-accounts`` Zoom
   accounts so the per-account token bucket, not the pool, sets the pace.
2. **Database checks** over ``--db-tutors`` (100,000) tutors on SQLite: every
   database check's query (goal: under 1 s in total), then the finding lifecycle
   (first scan: inserts; second: refreshes) and the readiness snapshot.
3. **Dashboard**: the first page (``GET /admin/health``, account administrator) with
   those 100,000 tutors and exactly ``--open-findings`` (20,000) open findings plus
   resolved history; the median of ``--requests`` (20) Flask test-client requests
   (goal < 150 ms), and a center administrator's page for comparison.

    .venv/bin/python bench/health_bench.py [--no-write] [--only scan|db]

Results replace the health block of BENCHMARKS.md (between its markers).
"""

import argparse
import datetime
import logging
import os
import platform
import re
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography.fernet import Fernet  # noqa: E402
from health_seed import pad_findings, seed_database, seed_scan  # noqa: E402

from portal import create_app  # noqa: E402
from portal.auth.passwords import hash_password  # noqa: E402
from portal.db import CySqliteDatabase, database  # noqa: E402
from portal.health import findings, scanner  # noqa: E402
from portal.health.checks import DATABASE  # noqa: E402
from portal.health.checks._common import Context  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import (  # noqa: E402
    Finding,
    Membership,
    User,
    utcnow,
)

RESULTS = os.path.join(ROOT, "BENCHMARKS.md")
START, END = "<!-- bench:health:start -->", "<!-- bench:health:end -->"
PASSWORD = "bench-password-123"


def make_app(tmp, name, simulator):
    config = {
        "TESTING": True,
        "SECRET_KEY": "health-bench-secret-key-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{tmp}/{name}.db",
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ZOOM_SIMULATOR": simulator,
    }
    if simulator:
        config.update(
            ZOOM_SIM_BASE_URL="http://127.0.0.1:5999/zoom-sim",
            ZOOM_SIM_OPTIONS={"webhook_url": None},
        )
    app = create_app(config)
    with app.app_context(), database.connection_context():
        upgrade()
    return app


# --- 1. the scan ------------------------------------------------------------------------------


def timed_scan(app, tutor_ids=None, concurrency=32, rate=10.0, burst=10):
    app.config.update(
        HEALTH_SCAN_CONCURRENCY=concurrency, HEALTH_ZOOM_RATE=rate, HEALTH_ZOOM_BURST=burst
    )
    started = time.perf_counter()
    report = scanner.run_scan(app, tutor_ids=tutor_ids, snapshot=False)
    return time.perf_counter() - started, report


def bench_scan(args, tmp):
    app = make_app(tmp, "scan", simulator=True)
    state = app.extensions["zoom_sim"]
    out = {}
    with app.app_context(), database.connection_context():
        t0 = time.perf_counter()
        ids = seed_scan(app, args.scan_tutors)
        print(f"scan: {len(ids)} tutors connected in {time.perf_counter() - t0:.1f} s", flush=True)
        state.set_latency(args.latency)
        wall, report = timed_scan(app, None, args.concurrency, args.rate, args.rate)
        pool_rate = args.concurrency / args.latency
        limit_rate = len(ids) * args.rate  # every tutor is their own Zoom account
        ideal = report.calls / min(pool_rate, limit_rate)
        print(f"scan: {report.calls} calls in {wall:.2f} s (ideal {ideal:.2f} s)", flush=True)
        sample = ids[: args.sequential_sample]
        seq_wall, seq_report = timed_scan(app, sample, 1, args.rate, args.rate)
        per_call = seq_wall / max(1, seq_report.calls)
        sequential = per_call * report.calls
        print(f"scan: sequential {seq_report.calls} calls in {seq_wall:.2f} s", flush=True)
        out["main"] = {
            "tutors": len(ids),
            "calls": report.calls,
            "unchecked": report.unchecked,
            "wall": wall,
            "ideal": ideal,
            "efficiency": ideal / wall,
            "pool_rate": pool_rate,
            "limit_rate": limit_rate,
            "seq_sample_tutors": len(sample),
            "seq_sample_calls": seq_report.calls,
            "seq_sample_wall": seq_wall,
            "sequential": sequential,
            "speedup": sequential / wall,
        }
        if args.shared_tutors:
            state.set_latency(0)
            shared = seed_scan(app, args.shared_tutors, args.shared_accounts, prefix="h")
            state.set_latency(args.latency)
            wall, report = timed_scan(app, shared, args.concurrency, args.shared_rate, 1)
            limit_rate = args.shared_accounts * args.shared_rate
            ideal = report.calls / min(pool_rate, limit_rate)
            print(f"scan (shared accounts): {report.calls} calls in {wall:.2f} s", flush=True)
            out["shared"] = {
                "tutors": len(shared),
                "accounts": args.shared_accounts,
                "calls": report.calls,
                "unchecked": report.unchecked,
                "wall": wall,
                "ideal": ideal,
                "efficiency": ideal / wall,
                "limit_rate": limit_rate,
            }
        state.set_latency(0)
    return out


# --- 2. database checks over 100,000 tutors ------------------------------------------------------


def bench_database(args, tmp):
    app = make_app(tmp, "big", simulator=False)
    out = {}
    with app.app_context(), database.connection_context():
        t0 = time.perf_counter()
        tutor_ids, center_ids = seed_database(args.db_tutors)
        out["seed"] = time.perf_counter() - t0
        database.execute_sql("ANALYZE")
        print(f"db: {len(tutor_ids)} tutors seeded in {out['seed']:.1f} s", flush=True)
        runs = []
        for _ in range(3):
            ctx = Context(now=utcnow())
            per_check, observations = {}, []
            for module in DATABASE:
                if hasattr(module, "available") and not module.available():
                    continue
                t0 = time.perf_counter()
                found = module.run(ctx)
                per_check[module.NAME] = (time.perf_counter() - t0, len(found))
                observations.extend(found)
            runs.append((sum(t for t, _ in per_check.values()), per_check, observations))
        runs.sort(key=lambda r: r[0])
        total, per_check, observations = runs[1]
        out["checks_total"] = total
        out["checks_each"] = per_check
        out["checks_runs"] = sorted(r[0] for r in runs)
        names = [m.NAME for m in DATABASE]
        t0 = time.perf_counter()
        first = findings.apply(observations, names)
        out["apply_first"] = (time.perf_counter() - t0, first.opened)
        t0 = time.perf_counter()
        second = findings.apply(observations, names)
        out["apply_second"] = (time.perf_counter() - t0, second.refreshed)
        t0 = time.perf_counter()
        scanner.readiness()
        out["snapshot"] = time.perf_counter() - t0
        print(f"db: checks {total * 1000:.0f} ms, {len(observations)} findings", flush=True)
        counts = prepare_dashboard(args, tutor_ids, center_ids)
    # Outside any app context: each test-client request gets its own (and its own `g`).
    out["dashboard"] = dict(counts, **time_dashboard(app, args))
    return out


# --- 3. the dashboard --------------------------------------------------------------------------


def login(client, email):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 303:
        raise SystemExit(f"bench login as {email} failed: {response.status_code}")


def timed_pages(app, email, requests):
    client = app.test_client()
    login(client, email)
    for _ in range(3):  # warm up
        client.get("/admin/health")
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get("/admin/health")
        times.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise SystemExit(f"dashboard answered {response.status_code}")
    return times


def prepare_dashboard(args, tutor_ids, center_ids):
    """Top up to the open-findings target, snapshot readiness, add the two administrators."""
    homes = dict(Membership.select(Membership.user, Membership.center).tuples())
    open_count = pad_findings(args.open_findings, tutor_ids, homes.get)
    scanner.take_snapshot(None)
    hashed = hash_password(PASSWORD)
    User.create(email="root@big.edu", name="Root", role="account_admin", password_hash=hashed)
    admin = User.create(
        email="admin@big.edu", name="Center Admin", role="center_admin", password_hash=hashed
    )
    Membership.create(user=admin, center=center_ids[0])
    database.execute_sql("ANALYZE")
    return {"open_findings": open_count, "total_findings": Finding.select().count()}


def time_dashboard(app, args):
    account = timed_pages(app, "root@big.edu", args.requests)
    center = timed_pages(app, "admin@big.edu", args.requests)
    return {
        "median": statistics.median(account),
        "p95": sorted(account)[int(0.95 * (len(account) - 1))],
        "center_median": statistics.median(center),
    }


# --- report ----------------------------------------------------------------------------------


def report(args, scan, db):
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Last run: {when} · {os.cpu_count()} CPUs · Python {platform.python_version()} · SQLite "
        f"{'.'.join(map(str, CySqliteDatabase.server_version[:3]))} (cysqlite, WAL) · "
        "`.venv/bin/python bench/health_bench.py`",
        "",
    ]
    if scan:
        m = scan["main"]
        ok = m["efficiency"] >= 0.7 and m["speedup"] >= 10
        lines += [
            f"**Scan**: {m['tutors']:,} connected tutors, each their own Zoom account, "
            f"{args.latency * 1000:.0f} ms added to every simulated Zoom call, "
            f"{args.concurrency} workers, {args.rate:g} calls/s per account: **{m['calls']:,} "
            f"calls in {m['wall']:.1f} s**; ideal {m['ideal']:.1f} s = calls ÷ min("
            f"{args.concurrency} ÷ {args.latency:g} s = {m['pool_rate']:.0f}/s, "
            f"{m['limit_rate']:,.0f}/s) → **{m['efficiency']:.0%} of ideal** (goal ≥ 70 %). "
            f"Sequential (1 worker), measured in the same run on {m['seq_sample_tutors']} tutors "
            f"({m['seq_sample_calls']} calls, {m['seq_sample_wall']:.1f} s) and scaled per call: "
            f"{m['sequential']:.0f} s → **{m['speedup']:.1f}× faster** (goal ≥ 10×); "
            f"{m['unchecked']} tutors unchecked. Goal **{'met' if ok else 'NOT met'}**.",
            "",
        ]
        if "shared" in scan:
            s = scan["shared"]
            lines += [
                f"Rate-bound variant: {s['tutors']} tutors on {s['accounts']} shared Zoom "
                f"accounts at {args.shared_rate:g} calls/s each ({s['limit_rate']:.0f}/s in all, "
                f"below the pool's {m['pool_rate']:.0f}/s): {s['calls']:,} calls in "
                f"{s['wall']:.1f} s, ideal {s['ideal']:.1f} s → "
                f"**{s['efficiency']:.0%} of ideal**, "
                f"{s['unchecked']} unchecked (no 429 from the simulator's Pro limits).",
                "",
            ]
    if db:
        each = ", ".join(
            f"{name} {t * 1000:.0f} ms ({n:,})" for name, (t, n) in db["checks_each"].items()
        )
        runs = " / ".join(f"{r * 1000:.0f}" for r in db["checks_runs"])
        ok = db["checks_total"] < 1.0
        lines += [
            f"**Database checks**, {args.db_tutors:,} tutors (80 % connected, 100,000 Joins in "
            f"48 h, 20,000 online appointments, 300 waiting rooms in use): "
            f"**{db['checks_total'] * 1000:.0f} ms in total** "
            f"(median of 3 runs: {runs} ms; goal < 1 s, **{'met' if ok else 'NOT met'}**) — "
            f"{each}. Then the lifecycle: first apply {db['apply_first'][0] * 1000:.0f} ms "
            f"({db['apply_first'][1]:,} opened), steady state "
            f"{db['apply_second'][0] * 1000:.0f} ms "
            f"({db['apply_second'][1]:,} refreshed); readiness snapshot "
            f"{db['snapshot'] * 1000:.0f} ms.",
            "",
        ]
        d = db["dashboard"]
        ok = d["median"] < 0.150
        lines += [
            f"**Dashboard** first page (`GET /admin/health`, account administrator, Flask test "
            f"client, {args.requests} requests after 3 warm-ups), {args.db_tutors:,} tutors and "
            f"{d['open_findings']:,} open findings ({d['total_findings']:,} in all): **median "
            f"{d['median'] * 1000:.0f} ms**, p95 {d['p95'] * 1000:.0f} ms (goal < 150 ms, "
            f"**{'met' if ok else 'NOT met'}**); a center administrator (one of 50 centers): "
            f"median {d['center_median'] * 1000:.0f} ms.",
        ]
    return "\n".join(lines)


def write_results(text):
    block = f"{START}\n{text}\n{END}"
    current = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmarks\n"
    if START in current and END in current:
        head, _, rest = current.partition(START)
        _, _, tail = rest.partition(END)
        new = head + block + tail
    else:
        new = current.rstrip() + "\n\n## Health checks (issue 6)\n\n" + block + "\n"
    with open(RESULTS, "w") as fh:
        fh.write(new)


def main():
    logging.getLogger("portal").setLevel(logging.WARNING)  # one INFO line per Zoom call
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("scan", "db"))
    parser.add_argument("--scan-tutors", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=10.0, help="calls/s per Zoom account")
    parser.add_argument("--sequential-sample", type=int, default=60)
    parser.add_argument("--shared-tutors", type=int, default=400)
    parser.add_argument("--shared-accounts", type=int, default=5)
    parser.add_argument("--shared-rate", type=float, default=15.0)
    parser.add_argument("--db-tutors", type=int, default=100_000)
    parser.add_argument("--open-findings", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmp-health-bench-") as tmp:
        scan = bench_scan(args, tmp) if args.only in (None, "scan") else None
        db = bench_database(args, tmp) if args.only in (None, "db") else None
    text = report(args, scan, db)
    print()
    print(text)
    if not args.no_write:
        write_results(text)
        print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
