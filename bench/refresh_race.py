"""Refresh race benchmark: how many token-endpoint calls does one expired token cost?

For each trial the tutor's stored access token is marked expired, then N threads
(each with its own requests.Session and database connection) call ``GET
/users/me`` at the same instant through ``ZoomClient``. A WSGI middleware in
front of the simulator counts ``POST /oauth/token`` per trial. RELIABILITY §8
asks for "token-endpoint calls per expiry = 1; refresh tokens lost = 0" over
≥100 trials.

    python bench/refresh_race.py [--trials 100] [--threads 8] [--database-url URL]

Without ``--database-url`` a temporary SQLite file is used. A PostgreSQL URL must
name a scratch database: its schema is migrated and a tutor row is added.
"""

import argparse
import base64
import collections
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import requests  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from portal import db as dbmod  # noqa: E402
from portal import migrate  # noqa: E402
from portal.models import User, ZoomConnection, utcnow  # noqa: E402
from portal.zoom import (  # noqa: E402
    ZoomClient,
    ZoomSettings,
    fetch_profile,
    finish_authorization,
    start_authorization,
    store_new_connection,
)
from portal.zoom.oauth import STORE_KEY  # noqa: E402
from portal.zoom.simulator import create_sim_app, run_live  # noqa: E402
from portal.zoom.tokens import unseal  # noqa: E402

REDIRECT_URI = "http://127.0.0.1:5000/zoom/callback"


class TokenCounter:
    """WSGI middleware counting token-endpoint calls."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.count = 0

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ.get("PATH_INFO") == "/oauth/token":
            with self.lock:
                self.count += 1
        return self.app(environ, start_response)

    def take(self):
        with self.lock:
            count, self.count = self.count, 0
            return count


def connect(settings, state, tutor, user_key):
    """Authorize the simulated user for the tutor (code approved directly on the state)."""
    store = {}
    start_authorization(store, settings)
    pending = store[STORE_KEY]
    digest = hashlib.sha256(pending["verifier"].encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    code = state.issue_code(user_key, REDIRECT_URI, challenge, "S256")
    with requests.Session() as http:
        token = finish_authorization(
            {"code": code, "state": pending["state"]}, store, settings, http
        )
        profile = fetch_profile(token["access_token"], settings, http)
    return store_new_connection(tutor, profile, token, settings)


def race(settings, tutor_id, threads):
    barrier = threading.Barrier(threads)
    failures = []

    def worker():
        try:
            with requests.Session() as session:
                client = ZoomClient(tutor_id, settings, http=session)
                barrier.wait(30)
                client.me()
        except Exception as exc:  # noqa: BLE001 - counted and reported
            failures.append(repr(exc))
        finally:
            if not dbmod.database.is_closed():
                dbmod.database.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or "sqlite:///" + os.path.join(tmp, "race.db")
        database = dbmod.make_database(url)
        dbmod.database.initialize(database)
        migrate.upgrade()
        tutor = User.create(
            email=f"race-{uuid.uuid4().hex[:8]}@example.edu",
            name="Race Tutor",
            role="tutor",
            password_hash="x",
        )
        app = create_sim_app(rate_limits=False, redirect_uris=[REDIRECT_URI])
        state = app.extensions["zoom_sim"]
        counter = TokenCounter(app.wsgi_app)
        app.wsgi_app = counter
        with run_live(app) as base:
            settings = ZoomSettings(
                client_id=state.config.client_id,
                client_secret=state.config.client_secret,
                redirect_uri=REDIRECT_URI,
                oauth_base_url=base,
                api_base_url=base + "/v2",
                encryption_keys=Fernet.generate_key().decode(),
            )
            conn = connect(settings, state, tutor, "licensed")
            counter.take()
            per_trial, failed_calls, lost, seconds = [], 0, 0, []
            for _ in range(args.trials):
                ZoomConnection.update(expires_at=utcnow()).where(
                    ZoomConnection.id == conn.id
                ).execute()
                started = time.perf_counter()
                failures = race(settings, tutor.id, args.threads)
                seconds.append(time.perf_counter() - started)
                failed_calls += len(failures)
                per_trial.append(counter.take())
                row = ZoomConnection.get_by_id(conn.id)
                stored = unseal(
                    row.refresh_token_enc,
                    tutor_id=row.tutor_id,
                    zoom_user_id=row.zoom_user_id,
                    settings=settings,
                )
                if row.status != "active" or stored != state.grants_of("licensed")[0].refresh_token:
                    lost += 1
                    break
        state.close()
        backend = "postgresql" if not dbmod.is_sqlite() else "sqlite"
        database.close()

    dist = dict(sorted(collections.Counter(per_trial).items()))
    print(f"refresh race: {len(per_trial)} trials x {args.threads} threads on {backend}")
    print(
        f"  token-endpoint calls per expiry: distribution {dist}, "
        f"mean {statistics.mean(per_trial):.2f}, max {max(per_trial)}"
    )
    print(f"  API calls failed: {failed_calls}; refresh tokens lost: {lost}")
    print(
        f"  trial wall time: median {statistics.median(seconds) * 1000:.1f} ms, "
        f"max {max(seconds) * 1000:.1f} ms"
    )
    return 0 if set(per_trial) == {1} and not failed_calls and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
