"""Webhook acknowledge latency: how long does POST /webhooks/zoom take to answer Zoom?

RELIABILITY §7 line 10 asks for a p99 under 1 s (Zoom gives up after 3 s). Each of
``--count`` distinct, correctly signed participant events is posted with the
Flask test client (no network) and timed from request to response. The ack path
is verify → parse → INSERT the delivery → COMMIT → answer. Three runs:

- ``ack only``: effects deferred (``WEBHOOK_PROCESSING="manual"``);
- ``ack + enqueue``: as in production, the huey task enqueued into SqliteHuey storage
  in a temporary folder after the commit;
- ``duplicates``: the same deliveries again (the UNIQUE dedupe key answers 200).

Then the deferred effects are applied once (``process_pending``) and timed.

    python bench/webhook_ack.py [--count 1000] [--database-url URL]

Without ``--database-url`` a temporary SQLite file is used. A PostgreSQL URL must
name a scratch database: its schema is dropped and migrated.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import logging
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from portal import create_app  # noqa: E402
from portal import db as dbmod  # noqa: E402
from portal.live.effects import process_pending  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import (  # noqa: E402
    Center,
    DailySession,
    Membership,
    User,
    WebhookDelivery,
    ZoomConnection,
    utcnow,
)

SECRET = "bench-webhook-secret"
MEETING_ID = 85746065432


def body_for(i, now):
    """A compact, distinct participant_joined_waiting_room event."""
    at = (now + datetime.timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    person = {
        "user_id": str(16778240 + i),
        "user_name": f"Student {i}",
        "email": "",
        "participant_uuid": f"BENCH-{i:06d}",
        "date_time": at,
    }
    envelope = {
        "event": "meeting.participant_joined_waiting_room",
        "payload": {
            "account_id": "bench",
            "object": {
                "id": str(MEETING_ID),
                "uuid": "bench==",
                "host_id": "bench-host",
                "topic": "Daily Session",
                "type": 2,
                "participant": person,
            },
        },
        "event_ts": int(now.replace(tzinfo=datetime.UTC).timestamp() * 1000) + i,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def headers_for(body):
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "x-zm-request-timestamp": ts,
        "x-zm-signature": "v0=" + mac.hexdigest(),
    }


def run(client, bodies, expect):
    timings = []
    for body in bodies:
        headers = headers_for(body)
        started = time.perf_counter()
        response = client.post("/webhooks/zoom", data=body, headers=headers)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["status"] == expect, response.get_json()
    return timings


def report(label, timings):
    ms = sorted(t * 1000 for t in timings)

    def pct(p):
        return ms[min(len(ms) - 1, round(p / 100 * len(ms)) - 1)]

    print(
        f"{label:<15} n={len(ms):<5} mean={statistics.fmean(ms):6.2f} ms  p50={pct(50):6.2f}  "
        f"p95={pct(95):6.2f}  p99={pct(99):6.2f}  max={ms[-1]:6.2f} ms"
    )


def seed():
    center = Center.create(name="Bench Center", virtual_meetings_enabled=True)
    tutor = User.create(
        email="bench.tutor@x.edu", name="Bench Tutor", role="tutor", password_hash="x"
    )
    Membership.create(user=tutor, center=center)
    ZoomConnection.create(tutor=tutor, zoom_user_id="bench-host", status="active")
    from portal import daily

    DailySession.create(
        tutor=tutor,
        center=center,
        date=daily.center_today(center),
        status="live",
        zoom_meeting_id=MEETING_ID,
        started_at=utcnow(),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or "sqlite:///" + os.path.join(tmp, "bench.db")
        database = dbmod.make_database(url)
        dbmod.database.initialize(database)
        with database.connection_context():
            if not dbmod.is_sqlite():
                database.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
                database.execute_sql("CREATE SCHEMA public")
            upgrade()
            seed()
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench-secret-key-that-is-long-enough-1234567",
                "DATABASE_URL": url,
                "TOKEN_ENCRYPTION_KEYS": "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A=",
                "ZOOM_SIMULATOR": False,
                "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
                "WEBHOOK_PROCESSING": "manual",
            }
        )
        app.instance_path = tmp  # huey's SqliteHuey storage goes here, not in instance/
        logging.getLogger("portal").setLevel(logging.WARNING)  # one INFO line per delivery
        client = app.test_client()
        now = utcnow()
        print(
            f"database: {'SQLite' if dbmod.is_sqlite() else 'PostgreSQL'}; "
            f"{args.count} signed deliveries per run (Flask test client)"
        )
        warm = body_for(10 * args.count, now)
        run(client, [warm], "received")  # warm up (first request builds lazy state)

        first = [body_for(i, now) for i in range(args.count)]
        report("ack only", run(client, first, "received"))

        app.config["WEBHOOK_PROCESSING"] = "huey"
        second = [body_for(args.count + i, now) for i in range(args.count)]
        report("ack + enqueue", run(client, second, "received"))

        report("duplicates", run(client, first, "duplicate"))

        with app.app_context(), database.connection_context():
            started = time.perf_counter()
            counts = process_pending(limit=10 * args.count)
            elapsed = time.perf_counter() - started
            rows = WebhookDelivery.select().count()
        print(
            f"effects: {counts} for {rows} deliveries in {elapsed:.2f} s "
            f"({elapsed / max(rows, 1) * 1000:.2f} ms each, after the answers)"
        )
        database.close()


if __name__ == "__main__":
    main()
