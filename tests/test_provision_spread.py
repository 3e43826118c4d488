"""Morning provisioning spread over job consumers in batches of tutors: overlapping runs and
batches still make one meeting per tutor-day; the CLI hands work to the consumers and waits."""

import threading

import pytest
from support import make_user
from support.health import connect
from support.zoom import sim_state, simulator_config

from portal import daily
from portal.db import database
from portal.models import DailySession, HealthScan
from portal.zoom.wiring import gateway

KEYS = ("spread1", "spread2", "spread3", "spread4", "spread5")


@pytest.fixture
def app_config(app_config):
    config = simulator_config(app_config)
    config.update(HUEY_IMMEDIATE=True, PROVISION_BATCH_SIZE=2, HEALTH_SCAN_BATCH_SIZE=2)
    return config


@pytest.fixture
def tutors(app, world):
    """Five tutors of Center A connected to Zoom, none with today's Daily Session yet."""
    state = sim_state(app)
    made = []
    for key in KEYS:
        state.add_user(key, f"{key}@zoom.example", "Spread", key)
        tutor = make_user(f"{key}@x.edu", "tutor", [world["a"]], name=f"Spread {key}")
        connect(app, tutor, key, session=False)
        made.append(tutor)
    return made


def meetings_per_tutor_day(app, world, tutors):
    day = daily.center_today(world["a"])
    state = sim_state(app)
    counts = {}
    for tutor, key in zip(tutors, KEYS, strict=True):
        marker = daily.marker(tutor.id, day)
        counts[tutor.id] = len([m for m in state.meetings_of(key) if marker in (m.agenda or "")])
    return counts


def test_batches_cover_every_connected_tutor_once(app, tutors):
    batches = daily.provision_batches(2)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(t for b in batches for t in b) == sorted(t.id for t in tutors)


def test_concurrent_overlapping_batches_make_one_meeting_per_tutor_day(app, world, tutors):
    # Two provisioning runs at once, each split in batches: six batches race over 5 tutors.
    batches = daily.provision_batches(2) * 2
    barrier = threading.Barrier(len(batches))
    reports, errors = [], []

    def consumer(batch):
        try:
            with app.app_context():
                barrier.wait()
                reports.append(daily.provision(gateway(app), tutor_ids=batch))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            if not database.is_closed():
                database.close()

    threads = [threading.Thread(target=consumer, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert set(meetings_per_tutor_day(app, world, tutors).values()) == {1}
    assert sum(len(r["created"]) for r in reports) == len(tutors)
    assert sum(len(r["failed"]) for r in reports) == 0
    assert DailySession.select().count() == len(tutors)
    # Whatever a busy batch skipped, the next run finds made: one each, still.
    daily.provision(gateway(app))
    assert set(meetings_per_tutor_day(app, world, tutors).values()) == {1}


def test_provision_spread_queues_batches_and_adds_their_reports(app, world, tutors):
    queued = daily.provision_spread(app)
    assert (queued["tutors"], queued["batches"]) == (5, 3)
    totals = daily.wait_provisioned(queued["results"], timeout=30)
    assert totals == {"created": 5, "adopted": 0, "existing": 0, "busy": 0, "failed": 0}
    again = daily.wait_provisioned(daily.provision_spread(app)["results"], timeout=30)
    assert again["existing"] == 5 and again["created"] == 0
    assert set(meetings_per_tutor_day(app, world, tutors).values()) == {1}


def test_provision_cli_spread(app, runner, world, tutors):
    first = runner.invoke(args=["portal", "provision", "--spread"])
    assert first.exit_code == 0, first.output
    assert "over the job consumers (5 tutor(s) in 3 batch(es))" in first.output
    assert "5 created" in first.output
    second = runner.invoke(args=["portal", "provision", "--spread"])
    assert "5 existing" in second.output and "0 created" in second.output
    assert DailySession.select().count() == 5


def test_health_scan_cli_spread(app, runner, world, tutors):
    result = runner.invoke(args=["portal", "health-scan", "--spread"])
    assert result.exit_code == 0, result.output
    assert "Health check done over the job consumers (3 batch(es)): 5 tutor(s)" in result.output
    (scan,) = HealthScan.select()
    assert scan.status == "done" and scan.trigger == "cli" and scan.batches == 3


def test_spread_commands_without_a_queue_fail_with_one_line(app, runner, tutors):
    app.config.update(HUEY_REDIS_URL="redis://127.0.0.1:1/0", HUEY_IMMEDIATE=False)
    for command in (["provision", "--spread"], ["health-scan", "--spread"]):
        result = runner.invoke(args=["portal", *command])
        assert result.exit_code == 1, result.output
        assert "The job queue could not be reached (ConnectionError)" in result.output
        assert "Traceback" not in result.output
    assert DailySession.select().count() == 0
    (scan,) = HealthScan.select()
    assert scan.status == "failed" and scan.lock is None  # the next scan is not blocked
