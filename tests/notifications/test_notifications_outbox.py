"""The outbox sends each message once: twice, concurrently from two processes, after a crash,
and while the mail server is down (queued, retried with backoff, never lost)."""

import datetime
import os
import subprocess
import sys

import pytest
from support.mail import BASE_URL, SENDER, SMTPServer, book, mail_config, send_reminders

from portal.models import OutboxMessage, utcnow
from portal.notifications import outbox

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return mail_config(app_config, smtp)


def _keys(smtp):
    return sorted((m.rcpt_tos[0], m.subject.split(":")[0]) for m in smtp.messages)


def _later(minutes):
    return utcnow() + datetime.timedelta(minutes=minutes)


def _cli(database_url, smtp, tmp_path):
    """`flask --app wsgi portal send-reminders` in its own process (production settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "MAIL_", "ZOOM_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "MAIL_URL": smtp.url,
            "MAIL_FROM": SENDER,
            "PUBLIC_BASE_URL": BASE_URL,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    return subprocess.Popen(
        [flask, "--app", "wsgi", "portal", "send-reminders"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_processes_at_once_then_twice_more_send_each_message_once(
    app, smtp, world, database_url, tmp_path
):
    stu, tom = world["student_a"], world["tutor_a"]
    for minutes in (20, 35, 50):  # three appointments: confirmations and reminders due
        book(stu, tom, minutes_from_now=minutes, length=10)
    procs = [_cli(database_url, smtp, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for _ in range(2):
        again = _cli(database_url, smtp, tmp_path)
        output = again.communicate(timeout=120)[0]
        assert again.returncode == 0, output
    assert len(smtp.messages) == 12  # 3 appointments × (confirmation + reminder) × 2 people
    assert len({(m.rcpt_tos[0], m.message["Message-ID"]) for m in smtp.messages}) == 12
    assert _keys(smtp).count((stu.email, "Reminder")) == 3
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0


def test_mail_server_down_keeps_the_message_queued_then_the_next_run_sends_it_once(
    app, smtp, runner, world
):
    stu, tom = world["student_a"], world["tutor_a"]
    book(stu, tom, days=2)
    smtp.stop()
    output = send_reminders(runner)
    assert "1 to retry" in output
    rows = list(OutboxMessage.select().order_by(OutboxMessage.id))
    assert [r.status for r in rows] == ["queued", "queued"]  # nothing lost
    tried = rows[0]
    assert tried.attempts == 1 and "could not connect to the mail server" in tried.last_error
    assert tried.next_attempt_at > utcnow()  # backoff: not again at once
    assert rows[1].attempts == 0  # the run stopped at the first connection failure

    smtp.start()
    send_reminders(runner)
    assert [m.rcpt_tos for m in smtp.messages] == [[tom.email]]  # the one not yet tried
    assert outbox.deliver_due(app, now=_later(3))["sent"] == 1  # after the backoff
    assert outbox.deliver_due(app, now=_later(10))["sent"] == 0
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == sorted([stu.email, tom.email])
    assert OutboxMessage.get_by_id(tried.id).status == "sent"


def test_a_refusing_server_is_retried_with_growing_pauses_then_failed_for_admins(
    app, smtp, runner, auth, client, world
):
    stu, tom = world["student_a"], world["tutor_a"]
    appt = book(stu, tom, days=2)
    OutboxMessage.delete().where(OutboxMessage.recipient == tom.id).execute()
    smtp.inbox.refuse = "451 4.3.0 Try again later"
    pauses, now = [], utcnow()
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.deliver_due(app, now=now)
        row = OutboxMessage.get()
        pauses.append(row.next_attempt_at - now)
        now = row.next_attempt_at + datetime.timedelta(seconds=1)
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS
    assert "refused the message (451)" in row.last_error
    assert all(b > a for a, b in zip(pauses[:5], pauses[1:6], strict=True))  # backoff grows
    assert smtp.messages == []

    auth.as_user(world["admin_b"])  # another center's admin: neither sees nor retries it
    assert "Stu Student" not in client.get("/admin/mail/").get_data(as_text=True)
    assert auth.post(f"/admin/mail/{row.id}/retry").status_code == 404
    auth.logout()
    auth.as_user(world["admin_a"])
    page = client.get("/admin/mail/").get_data(as_text=True)
    assert "Stu Student" in page and "refused the message (451)" in page and "Retry" in page
    assert auth.post("/admin/mail/abc/retry").status_code == 404
    response = auth.post(f"/admin/mail/{row.id}/retry")
    assert response.status_code == 303
    smtp.inbox.refuse = None
    send_reminders(runner)
    (mail,) = smtp.messages
    assert mail.rcpt_tos == [stu.email] and str(appt.id) in mail.text
    assert OutboxMessage.get_by_id(row.id).status == "sent"
    assert auth.post(f"/admin/mail/{row.id}/retry").status_code == 303  # sent: nothing to do
    send_reminders(runner)
    assert len(smtp.messages) == 1


def test_after_a_crash_the_message_is_sent_once_when_its_lease_runs_out(app, smtp, world):
    book(world["student_a"], world["tutor_a"], days=2)
    # A sender claimed both rows and died before sending: their leases hold them.
    assert outbox.claim("dead-sender") is not None
    assert outbox.claim("dead-sender") is not None
    assert outbox.deliver_due(app)["sent"] == 0
    assert smtp.messages == []
    later = utcnow() + outbox.LEASE + datetime.timedelta(seconds=1)
    assert outbox.deliver_due(app, now=later)["sent"] == 2
    assert outbox.deliver_due(app, now=later + outbox.LEASE * 2)["sent"] == 0
    assert len(smtp.messages) == 2


def test_queuing_the_same_message_twice_keeps_one_row(app, world):
    from portal import appointments
    from portal.notifications import bookings

    appt = book(world["student_a"], world["tutor_a"], days=2)
    bookings.queue_for(appt, "confirmation")
    bookings.queue_for(appt, "confirmation")
    assert OutboxMessage.select().count() == 2  # one per person, however often queued
    appointments.cancel(appt)
    assert appointments.cancel(appt) is False
    assert OutboxMessage.select().where(OutboxMessage.kind == "cancellation").count() == 2


def test_no_mail_url_in_production_keeps_messages_queued_and_says_so(
    app_config, world, database_url, tmp_path
):
    from portal import create_app
    from portal.notifications.settings import mail_settings

    config = dict(app_config, TESTING=False, MAIL_URL="", INSTANCE_PATH=str(tmp_path))
    config.update(ZOOM_CLIENT_ID="id", ZOOM_CLIENT_SECRET="s", ZOOM_WEBHOOK_SECRET_TOKEN="w")
    config.update(ZOOM_REDIRECT_URI="https://portal.example.edu/zoom/callback")
    config.update(SECRET_KEY="a-production-secret-key-with-enough-length")
    app = create_app(config)
    assert not mail_settings(app).can_send
    book(world["student_a"], world["tutor_a"], days=2)
    result = app.test_cli_runner().invoke(args=["portal", "send-reminders"])
    assert result.exit_code == 0
    assert "E-mail is not set up (MAIL_URL is empty)" in result.output
    assert {r.status for r in OutboxMessage.select()} == {"queued"}
    assert {r.attempts for r in OutboxMessage.select()} == {0}


def test_the_job_consumer_runs_send_reminders_every_minute(app, smtp, world):
    from portal.jobs import create_huey

    huey = create_huey(app)
    for minute in (datetime.datetime(2026, 1, 1, 3, 17), datetime.datetime(2026, 1, 1, 3, 18)):
        due = {task.name for task in huey.read_periodic(minute)}
        assert {"send_reminders", "before_shift_check"} <= due
    book(world["student_a"], world["tutor_a"], minutes_from_now=30)
    huey.portal_tasks["send_reminders"].call_local()
    assert len(smtp.messages) == 4  # two confirmations, two reminders
    huey.portal_tasks["deliver_mail"].call_local()
    assert len(smtp.messages) == 4
