"""Refresh under concurrency: 8 threads or 4 processes, one expired token, one token call."""

import dataclasses
import multiprocessing
import threading

import pytest
import requests

from portal import db as dbmod
from portal.zoom import ZoomClient

from .helpers import connect, expire, reload, stored_tokens
from .workers import refresh_worker


def race_threads(settings, tutor_id, n):
    """n threads, each with its own session and DB connection, call me() at the same moment."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def worker(i):
        try:
            with requests.Session() as session:
                client = ZoomClient(tutor_id, settings, http=session)
                barrier.wait(30)
                results[i] = client.me()["id"]
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(repr(exc))
        finally:
            if not dbmod.database.is_closed():
                dbmod.database.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


@pytest.mark.parametrize("trial", range(3))
def test_eight_threads_one_token_call(zoom, http, tutor, trial):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    expire(conn)
    zoom.recorder.clear()
    results, errors = race_threads(zoom.settings, tutor.id, 8)
    assert errors == []
    assert results == [reload(conn).zoom_user_id] * 8
    assert zoom.recorder.token_calls() == 1
    assert zoom.recorder.count("GET", "/v2/users/me") == 8
    grant = zoom.latest_grant(user)
    assert stored_tokens(conn, zoom.settings) == (grant.access_token, grant.refresh_token)
    row = reload(conn)
    assert row.version == 1 and row.status == "active" and row.lease_owner is None


def test_four_processes_one_token_call(zoom, http, tutor, database_url):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    expire(conn)
    zoom.recorder.clear()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    fields = dataclasses.asdict(zoom.settings)
    procs = [
        ctx.Process(target=refresh_worker, args=(database_url, fields, tutor.id, barrier, results))
        for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=90) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
        proc.close()
    results.close()
    results.join_thread()
    assert outcomes == [("ok", reload(conn).zoom_user_id)] * 4
    assert zoom.recorder.token_calls() == 1
    grant = zoom.latest_grant(user)
    assert stored_tokens(conn, zoom.settings) == (grant.access_token, grant.refresh_token)
    assert reload(conn).version == 1
