"""The before-shift check: minutes before a tutor's first online appointment of the day, the
token and today's Daily Session are verified with Zoom; a problem e-mails tutor and admins."""

import pytest
from support.health import connect, health_config, sim_state, today_meeting
from support.mail import BASE_URL, SMTPServer, book, mail_config, send_reminders

from portal import daily
from portal.models import DailySession, OutboxMessage, ShiftCheck, ZoomConnection


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return mail_config(health_config(app_config), smtp, SHIFT_CHECK_MINUTES_BEFORE=30)


def _check(runner):
    result = runner.invoke(args=["portal", "before-shift-check"])
    assert result.exit_code == 0, result.output
    return result.output


def _alerts(smtp):
    return [m for m in smtp.messages if "not ready" in m.subject or "Before your" in m.subject]


def test_a_ready_tutor_is_checked_once_and_today_s_session_is_made_if_missing(
    app, smtp, runner, world
):
    tom = world["tutor_a"]
    connect(app, tom, "licensed", session=False)
    book(world["student_a"], tom, minutes_from_now=20)
    assert daily.today_session(tom) is None
    assert "1 ready, 0 alerted" in _check(runner)
    assert daily.today_session(tom).status == "scheduled"  # created in Zoom in time
    assert "0 ready, 0 alerted" in _check(runner)  # once per tutor-day
    send_reminders(runner)
    assert _alerts(smtp) == []
    assert ShiftCheck.get().status == "ready"


def test_a_refused_token_alerts_the_tutor_and_the_admins_in_time(app, smtp, runner, world):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    book(world["student_a"], tom, minutes_from_now=25)
    sim_state(app).revoke_user_tokens("licensed")
    sim_state(app).expire_access_tokens("licensed")  # the next call must refresh, and can't
    assert "0 ready, 1 alerted" in _check(runner)
    assert ZoomConnection.get().status == "needs_reauth"
    send_reminders(runner)
    alerts = _alerts(smtp)
    assert sorted(m.rcpt_tos[0] for m in alerts) == sorted([tom.email, world["admin_a"].email])
    by = {m.rcpt_tos[0]: m for m in alerts}
    assert by[tom.email].subject.startswith("Before your ")
    assert "Zoom still accepts the portal" in by[tom.email].text
    assert f"{BASE_URL}/tutor/preferences" in by[tom.email].text
    assert by[world["admin_a"].email].subject.startswith("Tom Tutor is not ready for their")
    assert f"{BASE_URL}/admin/health/tutors/{tom.id}" in by[world["admin_a"].email].text
    _check(runner)
    send_reminders(runner)
    assert len(_alerts(smtp)) == 2  # once per tutor-day


def test_a_session_deleted_in_zoom_is_caught_before_the_shift(app, smtp, runner, world):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    meeting = today_meeting(tom)
    sim_state(app).zoom_delete_meeting(meeting, notify=False)
    book(world["student_a"], tom, minutes_from_now=15)
    assert "1 alerted" in _check(runner)
    detail = ShiftCheck.get().detail["rows"]
    assert [r["key"] for r in detail] == ["session"]
    assert "no longer exists in Zoom" in detail[0]["detail"]
    assert DailySession.get().zoom_meeting_id == meeting


def test_only_the_first_appointment_of_the_day_and_not_too_early(app, smtp, runner, world):
    tom = world["tutor_a"]
    book(world["student_a"], tom, minutes_from_now=90)  # later than 30 minutes: not yet
    assert "0 ready, 0 alerted" in _check(runner)
    assert ShiftCheck.select().count() == 0


def test_zoom_not_answering_is_not_called_broken(app, smtp, runner, world):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    book(world["student_a"], tom, minutes_from_now=20)
    sim_state(app).fail_next(20, status=503)
    output = _check(runner)
    assert "0 alerted, 1 could not be checked" in output
    assert ShiftCheck.get().status == "unchecked"
    assert OutboxMessage.select().where(OutboxMessage.kind == "shift_alert").count() == 0
