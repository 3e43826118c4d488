"""Broken-integration alerts: once per finding opening, to the tutor and each center admin."""

import datetime

import pytest
from support import make_user
from support.health import connect, health_config, opened, scan
from support.mail import BASE_URL, SMTPServer, mail_config, send_reminders

from portal.health import findings
from portal.models import Finding, OutboxMessage, ZoomConnection, utcnow
from portal.notifications import preferences


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return mail_config(health_config(app_config), smtp)


def _later(minutes):
    return utcnow() + datetime.timedelta(minutes=minutes)


def _break(tom, status="needs_reauth"):
    ZoomConnection.update(status=status).where(ZoomConnection.tutor == tom.id).execute()


def _alerts(smtp):
    return sorted(m.rcpt_tos[0] for m in smtp.messages)


def test_a_critical_finding_alerts_once_and_again_only_when_it_comes_back(app, smtp, runner, world):
    tom = world["tutor_a"]
    second_admin = make_user("admin2.a@x.edu", "center_admin", [world["a"]], name="Al Admin")
    connect(app, tom, "licensed")
    preferences.set_reminders(tom, False)  # reminders off: alerts still come
    _break(tom)
    scan(app, now=_later(1))
    (finding,) = opened("connection_broken")
    send_reminders(runner)
    expected = sorted([tom.email, world["admin_a"].email, second_admin.email])
    assert _alerts(smtp) == expected  # not admin_b (another center), not the account admin
    by = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert by[tom.email].subject == (
        "Virtual Meetings needs your attention: Zoom connection broken"
    )
    assert f"{BASE_URL}/tutor/preferences" in by[tom.email].text
    assert "can no longer reach your Zoom account" in by[tom.email].text
    admin_mail = by[world["admin_a"].email]
    assert admin_mail.subject == "Tom Tutor: Zoom connection broken"
    assert f"{BASE_URL}/admin/health/findings/{finding.id}" in admin_mail.text

    scan(app, now=_later(2))  # still broken: refreshed, not opened
    scan(app, now=_later(3))
    send_reminders(runner)
    assert len(smtp.messages) == 3

    _break(tom, "active")
    scan(app, now=_later(4))
    assert opened("connection_broken") == []
    _break(tom)
    scan(app, now=_later(5))
    send_reminders(runner)
    assert _alerts(smtp) == sorted(expected * 2)  # one more each for the new opening
    assert Finding.select().where(Finding.check == "connection_broken").count() == 2


def test_warnings_send_nothing_and_a_finding_opened_by_join_alerts_too(app, smtp, runner, world):
    tom = world["tutor_a"]
    findings.open_finding(
        "stale_connect_link", "stale_connect_link:tutor:9", "warning", world["a"], tom, "x"
    )
    send_reminders(runner)
    assert smtp.messages == []
    for _ in range(2):
        findings.open_finding(
            "session_mismatch", f"session_mismatch:tutor:{tom.id}", "critical", world["a"], tom, "d"
        )
    send_reminders(runner)
    assert _alerts(smtp) == sorted([tom.email, world["admin_a"].email])


def test_a_finding_fixed_before_its_alert_went_out_sends_nothing(app, smtp, runner, world):
    tom = world["tutor_a"]
    key = f"connection_broken:tutor:{tom.id}"
    findings.open_finding("connection_broken", key, "critical", world["a"], tom, "broken")
    findings.resolve(key, "fixed")
    send_reminders(runner)
    assert smtp.messages == []
    assert {r.status for r in OutboxMessage.select()} == {"skipped"}


def test_a_center_without_admins_alerts_the_account_admins(app, smtp, runner, world):
    tia = world["tutor_b"]
    world["admin_b"].delete_instance()
    findings.open_finding(
        "free_account", f"free_account:tutor:{tia.id}", "critical", world["b"], tia, "Basic"
    )
    send_reminders(runner)
    assert _alerts(smtp) == sorted([tia.email, world["account_admin"].email])
