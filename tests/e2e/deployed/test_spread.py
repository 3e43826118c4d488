"""As deployed: the health scan and the morning provisioning handed to the real job consumer
(``huey_consumer huey_app.huey --workers 2``) in batches of 2 tutors.

The spread scan opens exactly the findings a scan in one process opens; overlapping
provisioning runs spread over the consumer make one meeting per tutor-day.
"""

import pytest
from support import make_user

from portal import daily
from portal.health import runs, scanner
from portal.health.demo import connect_via_simulator
from portal.models import DailySession, Finding, HealthScan, HealthScanBatch, HealthSnapshot
from portal.zoom.wiring import gateway

KEYS = ("wide1", "wide2", "wide3", "wide4", "wide5")


@pytest.fixture
def consumer_app(app, deployed):
    """The in-test app, queueing into the deployed consumer's queue and seeing its Zoom."""
    app.instance_path = deployed.env["INSTANCE_PATH"]
    app.extensions.pop("huey", None)
    # Scans back to back would meet the free account's 2 calls/s; a retried 429 is not
    # what this compares.
    deployed.new_zoom(rate_limits=False)
    app.extensions["zoom_sim"] = deployed.zoom  # connect_via_simulator issues codes there
    app.config.update(HUEY_IMMEDIATE=False, PROVISION_BATCH_SIZE=2)
    yield app
    app.extensions.pop("zoom_sim", None)
    app.extensions.pop("huey", None)


@pytest.fixture
def tutors(consumer_app, deployed, world, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the simulator speaks http
    zoom = deployed.zoom
    made = []
    for n, key in enumerate(KEYS):
        fields = {"type": 1} if n == 0 else {}  # one Basic (free) account
        zoom.add_user(key, f"{key}@zoom.example", "Wide", key, **fields)
        tutor = make_user(f"{key}@x.edu", "tutor", [world["a"]], name=f"Wide {key}")
        connect_via_simulator(consumer_app, tutor, key)
        made.append(tutor)
    return made


def _open_findings():
    return sorted(
        (f.check, f.key, f.severity, f.tutor_id, f.detail)
        for f in Finding.select().where(Finding.resolved_at.is_null())
    )


def test_a_scan_spread_over_the_consumer_finds_what_one_process_finds(
    consumer_app, deployed, tutors
):
    app = consumer_app
    for tutor in tutors:
        daily.ensure_daily_session(tutor, gateway(app))
    for meeting in deployed.zoom.meetings_of("wide2"):
        deployed.zoom.zoom_delete_meeting(meeting.id, notify=False)
    single = scanner.run_scan(app)
    expected = _open_findings()
    assert {"free_account", "session_mismatch"} <= {row[0] for row in expected}
    Finding.delete().execute()
    HealthSnapshot.delete().execute()

    scan = runs.start_spread(app)
    done = runs.wait(scan.id, timeout=120, poll=0.2)
    assert done.status == "done", done.error
    assert done.batches == 3
    assert (done.total, done.calls, done.opened) == (single.tutors, single.calls, single.opened)
    assert _open_findings() == expected
    assert HealthScanBatch.select().where(HealthScanBatch.status != "done").count() == 0
    assert done.snapshots.count() == 1


def test_overlapping_provisioning_runs_over_the_consumer_make_one_meeting_each(
    consumer_app, deployed, world, tutors
):
    runs_queued = [daily.provision_spread(consumer_app) for _ in range(4)]
    assert all(q["batches"] == 3 for q in runs_queued)
    totals = [daily.wait_provisioned(q["results"], timeout=120) for q in runs_queued]
    assert sum(t["failed"] for t in totals) == 0
    assert sum(t["created"] for t in totals) == len(tutors)
    day = daily.center_today(world["a"])
    for tutor, key in zip(tutors, KEYS, strict=True):
        marker = daily.marker(tutor.id, day)
        made = [m for m in deployed.zoom.meetings_of(key) if marker in (m.agenda or "")]
        assert len(made) == 1, f"{tutor.email}: {len(made)} meetings"
        (session,) = DailySession.select().where(DailySession.tutor == tutor)
        assert session.zoom_meeting_id == made[0].id
    assert HealthScan.select().count() == 0  # provisioning started no scan
