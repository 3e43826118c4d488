"""Each health check, positive and negative, against the Zoom simulator and the database."""

import datetime

import pytest
from support.health import (
    checks_open,
    connect,
    health_config,
    opened,
    scan,
    sim_state,
    today_meeting,
)

from portal import appointments, daily
from portal.health.checks import session_mismatch, waiting_room_stuck
from portal.health.zoomcheck import Target
from portal.models import (
    Center,
    DailySession,
    Finding,
    JoinEvent,
    TutorDevice,
    User,
    ZoomConnection,
    utcnow,
)
from portal.zoom.errors import ZoomNotFound, ZoomUnavailable
from portal.zoom.wiring import gateway


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


@pytest.fixture
def tom(app, world):
    """Tom Tutor (Center A) connected to the simulator's licensed user, today's session made."""
    connect(app, world["tutor_a"], "licensed")
    return world["tutor_a"]


def test_healthy_tutor_has_no_findings(app, tom):
    report = scan(app)
    assert report.tutors == 1 and report.checked == 1 and report.unchecked == 0
    assert report.calls == 3  # the profile, the list, the meeting
    assert opened() == []


# --- session_mismatch ------------------------------------------------------------------------


def test_meeting_deleted_in_zoom_is_missing_after_a_recheck(app, tom):
    meeting = today_meeting(tom)
    sim_state(app).zoom_delete_meeting(meeting, notify=False)
    report = scan(app)
    (finding,) = opened("session_mismatch")
    assert finding.severity == "critical" and "no longer exists in Zoom" in finding.detail
    evidence = finding.evidence
    assert evidence["kind"] == "missing" and evidence["meeting_id"] == meeting
    assert evidence["zoom_answer"]["code"] == 3001 and evidence["recheck_answer"]["code"] == 3001
    assert report.calls == 4  # the GET was asked twice before calling it missing


class ScriptedClient:
    """A stand-in Zoom client answering from a script (unit test of the re-check rule)."""

    def __init__(self, answers, listed=()):
        self.answers = list(answers)
        self.listed = list(listed)
        self.gets = 0

    def list_meetings(self, kind):
        return self.listed

    def get_meeting(self, meeting_id):
        self.gets += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _target(**fields):
    values = dict(
        tutor_id=1,
        name="Tom",
        connection_id=1,
        account="acct",
        stored={},
        center_id=1,
        timezone="America/New_York",
        date=datetime.date(2026, 3, 2),
        meeting_id=81234567890,
        host_id="host-1",
    )
    values.update(fields)
    return Target(**values)


def test_one_not_found_answer_is_never_called_missing():
    gone = ZoomNotFound(3001, "Meeting does not exist.", 404)
    meeting = {"id": 81234567890, "host_id": "host-1", "start_time": "2026-03-02T14:00:00Z"}
    pauses = []
    client = ScriptedClient([gone, meeting])
    verdict = session_mismatch.inspect(client, _target(), recheck=2.5, sleep=pauses.append)
    assert verdict.problems == [] and client.gets == 2 and pauses == [2.5]
    listed = ScriptedClient([gone], listed=[{"id": 81234567890, "topic": "Daily Session"}])
    with pytest.raises(session_mismatch.NotChecked):  # Zoom contradicts itself: not "missing"
        session_mismatch.inspect(listed, _target(), recheck=0, sleep=pauses.append)


@pytest.mark.parametrize(
    "failure",
    [
        ZoomUnavailable(message="Could not connect to Zoom: ConnectionError", sent=False),
        ZoomUnavailable(503, "Internal Error", 503),
    ],
)
def test_network_errors_and_5xx_are_not_checked_never_missing(failure):
    client = ScriptedClient([ZoomNotFound(3001, "Meeting does not exist.", 404), failure])
    with pytest.raises(session_mismatch.NotChecked) as info:
        session_mismatch.inspect(client, _target(), recheck=0, sleep=lambda s: None)
    assert str(failure) in str(info.value)


def test_5xx_is_could_not_check_and_keeps_the_finding(app, tom):
    sim_state(app).zoom_delete_meeting(today_meeting(tom), notify=False)
    scan(app)
    (missing,) = opened("session_mismatch")
    sim_state(app).fail_next(count=20, status=503)
    report = scan(app)
    assert report.unchecked == 1
    (still,) = opened("session_mismatch")
    assert still.id == missing.id and still.last_checked == missing.last_checked
    (unknown,) = opened("could_not_check")
    assert "HTTP 503" in unknown.detail and unknown.severity == "info"
    sim_state(app).reset_faults()
    scan(app)
    assert checks_open() == {"session_mismatch"}  # Zoom answered again: still missing
    assert Finding.get_by_id(unknown.id).resolved_at is not None


def test_session_hosted_by_another_zoom_user(app, tom):
    DailySession.update(host_id="someone-else").execute()
    scan(app)
    (finding,) = opened("session_mismatch")
    assert finding.evidence["kind"] == "other_host" and "another Zoom user" in finding.detail


def test_session_on_another_date_in_zoom(app, tom):
    meeting = today_meeting(tom)
    tomorrow = daily.center_today(Center.get()) + datetime.timedelta(days=1)
    client = gateway(app)(tom)
    client.update_meeting(meeting, {"start_time": f"{tomorrow}T10:00:00", "timezone": "UTC"})
    client.close()
    scan(app)
    (finding,) = opened("session_mismatch")
    assert finding.evidence["kind"] == "other_date" and str(tomorrow) in finding.detail


def test_another_daily_session_meeting_in_zoom_for_today(app, tom):
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    other = sim_state(app).create_daily_session("licensed", "Daily Session", start=start)
    scan(app)
    (finding,) = opened("session_mismatch")
    assert finding.evidence["kind"] == "other_meeting"
    assert finding.evidence["other_meetings"] == [other.id]
    assert daily.format_meeting_number(other.id) in finding.detail


# --- duplicate_authorization -----------------------------------------------------------------


def test_one_zoom_user_linked_to_two_tutors(app, world, tom):
    other = User.create(email="t2@x.edu", name="Tia Two", role="tutor", password_hash="x")
    ZoomConnection.create(  # a legacy row from before the connect-time refusal
        tutor=other, zoom_user_id=ZoomConnection.get().zoom_user_id, email="elsewhere@x.edu"
    )
    scan(app)
    found = opened("duplicate_authorization")
    assert {f.tutor_id for f in found} == {tom.id, other.id}
    linked = found[0].evidence["linked"]
    assert {row["tutor_id"] for row in linked} == {tom.id, other.id}
    assert "Tia" not in found[0].detail  # the other tutor is not named in the words


def test_same_email_counts_as_the_same_zoom_account(app, world, tom):
    other = User.create(email="t3@x.edu", name="Tim", role="tutor", password_hash="x")
    ZoomConnection.create(tutor=other, zoom_user_id="other-id", email=ZoomConnection.get().email)
    scan(app)
    assert len(opened("duplicate_authorization")) == 2


def test_ended_connections_are_not_duplicates(app, world, tom):
    other = User.create(email="t4@x.edu", name="Ty", role="tutor", password_hash="x")
    ZoomConnection.create(
        tutor=other, zoom_user_id=ZoomConnection.get().zoom_user_id, ended_at=utcnow()
    )
    scan(app)
    assert opened("duplicate_authorization") == []


# --- stale_connect_link ----------------------------------------------------------------------


def test_connect_link_with_the_tutors_own_pmi(app, tom):
    pmi = ZoomConnection.get().pmi
    User.update(connect_link=f"https://us06web.zoom.us/j/{pmi}?pwd=abc").execute()
    scan(app)
    (finding,) = opened("stale_connect_link")
    assert finding.evidence["own_pmi"] is True
    assert "their own Personal Meeting ID" in finding.detail


def test_connect_link_to_another_zoom_meeting(app, tom):
    User.update(connect_link="https://zoom.us/j/81234567890").where(User.id == tom.id).execute()
    scan(app)
    (finding,) = opened("stale_connect_link")
    assert finding.evidence["own_pmi"] is False and "not their personal room" in finding.detail


def test_non_zoom_link_or_no_connection_is_not_stale(app, world, tom):
    User.update(connect_link="https://meet.example.edu/tom").where(User.id == tom.id).execute()
    User.update(connect_link="https://zoom.us/j/5551234567").where(
        User.id == world["tutor_b"].id
    ).execute()
    scan(app)
    assert opened("stale_connect_link") == []


# --- free_account / social_login / connection_broken ---------------------------------------------


def test_account_downgraded_to_basic_is_found_by_the_profile_refresh(app, tom):
    scan(app)
    assert opened("free_account") == []
    sim_state(app).downgrade_to_basic("licensed")
    scan(app)
    (finding,) = opened("free_account")
    assert ZoomConnection.get().user_type == 1 and "40 minutes" in finding.detail


def test_google_sign_in_is_social_login(app, world):
    connect(app, world["tutor_a"], "google")
    scan(app)
    (finding,) = opened("social_login")
    assert "Google" in finding.detail and finding.evidence["login_types"] == [1]


def test_switching_to_email_login_resolves_social_login(app, world):
    connect(app, world["tutor_a"], "google")
    scan(app)
    sim_state(app).set_login_method("google", [100])
    scan(app)
    assert opened("social_login") == []


def test_revoked_tokens_are_a_broken_connection_not_a_mismatch(app, tom):
    sim_state(app).revoke_user_tokens("licensed")
    scan(app)
    assert checks_open() == {"connection_broken"}
    assert ZoomConnection.get().status == "needs_reauth"


# --- not_connected ---------------------------------------------------------------------------


def _book(world, tutor):
    tomorrow = daily.center_today(world["a"]) + datetime.timedelta(days=1)
    return appointments.book(world["student_a"], tutor, "online", f"{tomorrow}T10:00")


def test_online_appointments_with_nobody_connected(app, world):
    _book(world, world["tutor_a"])
    scan(app)
    (finding,) = opened("not_connected")
    assert finding.tutor_id == world["tutor_a"].id and finding.evidence["appointments"] == 1


def test_connected_or_no_appointments_is_not_not_connected(app, world, tom):
    _book(world, tom)
    lone = User.create(email="lone@x.edu", name="Lone", role="tutor", password_hash="x")
    scan(app)
    assert opened("not_connected") == [] and lone.id


# --- students_misrouted ----------------------------------------------------------------------


def _join(world, tutor, destination, minutes_ago, device="d" * 24, reason="not_connected"):
    return JoinEvent.create(
        student=world["student_a"],
        tutor=tutor,
        center=world["a"],
        destination=destination,
        reason=reason,
        device_id=device,
        created_at=utcnow() - datetime.timedelta(minutes=minutes_ago),
    )


def test_recent_joins_sent_nowhere(app, world):
    _join(world, world["tutor_a"], "nowhere", 30)
    _join(world, world["tutor_a"], "connect_link", 20, reason="connect_link")
    scan(app)
    (finding,) = opened("students_misrouted")
    assert finding.evidence["joins"] == 2 and "2 Joins" in finding.detail


def test_misroutes_followed_by_a_good_join_or_old_ones_do_not_count(app, world):
    _join(world, world["tutor_a"], "nowhere", 30)
    _join(world, world["tutor_a"], "daily_session", 10, reason="session_known")
    _join(world, world["tutor_b"], "nowhere", 60 * 30)  # 30 hours ago
    scan(app)
    assert opened("students_misrouted") == []


# --- same_device -----------------------------------------------------------------------------


def test_join_from_the_tutors_start_device(app, world, tom):
    TutorDevice.create(tutor=tom, device_id="shared-device-0123456789")
    _join(world, tom, "daily_session", 5, device="shared-device-0123456789")
    _join(world, tom, "daily_session", 4, device="another-device-0123456789")
    scan(app)
    (finding,) = opened("same_device")
    assert finding.severity == "info" and finding.evidence["joins"] == 1


def test_start_records_the_tutors_device_and_a_student_join_matches(app, auth, client, world):
    auth.as_user(world["tutor_a"])
    connect(app, world["tutor_a"], "licensed")
    session = daily.today_session(world["tutor_a"])
    response = client.get(f"/tutor/sessions/{session.id}/start")
    assert response.status_code == 303
    (device,) = TutorDevice.select()
    assert device.tutor_id == world["tutor_a"].id and device.session_id == session.id
    assert "vmp_device=" in response.headers.get("Set-Cookie", "")
    auth.logout()
    auth.as_user(world["student_a"])
    client.get(f"/join/{world['tutor_a'].id}")  # same browser, same device cookie
    assert JoinEvent.get().device_id == device.device_id
    scan(app)
    assert len(opened("same_device")) == 1


# --- waiting_room_stuck ----------------------------------------------------------------------


def test_waiting_room_stuck_only_past_the_centers_limit(app, tom):
    if not waiting_room_stuck.available():
        pytest.skip("the webhook presence tables (migration 0003) are not here")
    from portal.models import MeetingParticipant

    session = daily.today_session(tom)
    now = utcnow()
    MeetingParticipant.create(
        session=session, participant_key="p1", state="waiting", waiting_since=now
    )
    scan(app)
    assert opened("waiting_room_stuck") == []
    MeetingParticipant.create(
        session=session,
        participant_key="p2",
        state="waiting",
        waiting_since=now - datetime.timedelta(minutes=9),
    )
    scan(app)
    (finding,) = opened("waiting_room_stuck")
    assert finding.key == f"waiting_room_stuck:session:{session.id}"
    assert finding.subject_type == "session" and "limit is 5" in finding.detail
    MeetingParticipant.update(state="joined").execute()
    scan(app)
    assert opened("waiting_room_stuck") == []


def test_waiting_room_check_is_skipped_without_webhook_tables(app, tom, monkeypatch):
    monkeypatch.setattr(waiting_room_stuck, "available", lambda: False)
    report = scan(app)
    assert "waiting_room_stuck" in report.skipped
