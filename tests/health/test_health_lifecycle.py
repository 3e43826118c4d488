"""Findings live across scans: opened once, refreshed (never duplicated), resolved when gone."""

import datetime

import pytest
from support.health import connect, health_config, opened, scan

from portal.health import findings
from portal.join import open_finding as join_open_finding
from portal.models import Center, Finding, User, ZoomConnection, utcnow


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


def _later(minutes):
    return utcnow() + datetime.timedelta(minutes=minutes)


def test_three_scans_open_refresh_resolve(app, world):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    link = f"https://zoom.us/j/{ZoomConnection.get().pmi}"
    User.update(connect_link=link).where(User.id == tom.id).execute()

    first = scan(app, now=_later(1))
    (finding,) = opened("stale_connect_link")
    assert first.opened == 1 and finding.first_seen == finding.last_seen

    second = scan(app, now=_later(2))
    (again,) = opened("stale_connect_link")
    assert second.opened == 0 and second.refreshed == 1
    assert again.id == finding.id and again.first_seen == finding.first_seen
    assert again.last_seen > finding.last_seen and again.last_checked == again.last_seen
    assert Finding.select().where(Finding.key == finding.key).count() == 1

    User.update(connect_link=None).where(User.id == tom.id).execute()
    third = scan(app, now=_later(3))
    resolved = Finding.get_by_id(finding.id)
    assert third.resolved == 1 and opened() == []
    assert abs(resolved.resolved_at - _later(3)) < datetime.timedelta(seconds=5)
    assert resolved.resolution == "The Connect Link no longer points at Zoom"
    assert resolved.evidence["connect_link"] == link  # the raw evidence stays


def test_a_problem_that_comes_back_is_a_new_finding(app, world):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    scan(app)
    User.update(connect_link=None).execute()
    scan(app)
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    scan(app)
    rows = list(Finding.select().where(Finding.check == "stale_connect_link"))
    assert len(rows) == 2 and sum(r.resolved_at is None for r in rows) == 1


def test_changed_detail_is_refreshed_in_place(app, world):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    scan(app)
    User.update(connect_link="https://zoom.us/j/81234567891").execute()
    scan(app)
    (finding,) = opened("stale_connect_link")
    assert "81234567891" in finding.detail and finding.evidence["meeting_number"] == 81234567891


def test_a_finding_opened_by_join_is_refreshed_not_duplicated(app, world):
    tutor = world["tutor_a"]
    key = findings.tutor_key("not_connected", tutor.id)
    join_open_finding("not_connected", key, "critical", world["a"].id, tutor.id, "From Join.")
    from portal import appointments, daily

    tomorrow = daily.center_today(world["a"]) + datetime.timedelta(days=1)
    appointments.book(world["student_a"], tutor, "online", f"{tomorrow}T10:00")
    scan(app)
    (finding,) = opened("not_connected")
    assert finding.key == key and "online appointment" in finding.detail


def test_center_scan_leaves_other_centers_findings_alone(app, world):
    Center.update(virtual_meetings_enabled=True).execute()
    connect(app, world["tutor_a"], "licensed")
    connect(app, world["tutor_b"], "tutor1")
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    scan(app)
    assert len(opened("stale_connect_link")) == 2
    User.update(connect_link=None).execute()
    scan(app, centers=[world["a"].id])
    (left,) = opened("stale_connect_link")
    assert left.tutor_id == world["tutor_b"].id


def test_open_finding_and_resolve_are_idempotent(app, world):
    tutor = world["tutor_a"]
    key = findings.tutor_key("same_device", tutor.id)
    one = findings.open_finding("same_device", key, "info", world["a"], tutor, "One.", {"a": 1})
    two = findings.open_finding("same_device", key, "info", world["a"], tutor, "Two.", {"a": 2})
    assert one.id == two.id and two.detail == "Two." and two.evidence == {"a": 2}
    assert findings.resolve(key, "done", by=world["admin_a"]) is True
    assert findings.resolve(key, "again") is False
    assert Finding.get_by_id(one.id).resolved_by_id == world["admin_a"].id
