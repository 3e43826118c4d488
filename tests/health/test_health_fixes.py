"""One-click fixes from a finding's page: each audited, each re-checked right after."""

import pytest
from support import make_user
from support.health import connect, health_config, opened, scan, sim_state, today_meeting

from portal import daily
from portal.health import findings
from portal.models import AuditEntry, DailySession, Finding, TutorNotice, User, ZoomConnection


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


@pytest.fixture
def admin(login_as):
    return login_as("admin_a")


def fix(auth, finding, name, htmx=False, **data):
    return auth.post(
        f"/admin/health/findings/{finding.id}/fix/{name}",
        data,
        htmx=htmx,
        token_path="/admin/health",
    )


def move_to_another_day(app, tutor, meeting_id):
    """In Zoom, move the tutor's meeting to another date (a session_mismatch "other_date")."""
    from portal.zoom.wiring import gateway

    with gateway(app)(tutor) as client:
        client.update_meeting(meeting_id, {"start_time": "2031-01-01T10:00:00", "timezone": "UTC"})


def audited(action):
    return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


def test_clear_connect_link_then_undo(app, auth, world, admin):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    link = f"https://zoom.us/j/{ZoomConnection.get().pmi}"
    User.update(connect_link=link).where(User.id == tom.id).execute()
    scan(app)
    (finding,) = opened("stale_connect_link")

    response = fix(auth, finding, "clear_connect_link", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="finding-detail"' in html
    assert "Cleared Tom Tutor&#39;s Connect Link" in html and "Undo" in html
    assert response.headers["HX-Trigger"] == "health-fixed"
    assert User.get_by_id(tom.id).connect_link is None
    assert Finding.get_by_id(finding.id).resolved_at is not None  # re-checked right after
    (entry,) = audited("health.clear_connect_link")
    assert entry.actor_id == admin.id and entry.before == {"connect_link": link}
    assert entry.after["finding"] == finding.id and entry.center_id == world["a"].id

    response = fix(auth, finding, "undo_clear_connect_link")  # a plain form: 303 back
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/health/findings/{finding.id}")
    assert User.get_by_id(tom.id).connect_link == link
    assert audited("health.undo_clear_connect_link")[0].after["connect_link"] == link
    (reopened,) = opened("stale_connect_link")
    assert reopened.id != finding.id and reopened.key == finding.key
    assert fix(auth, finding, "undo_clear_connect_link").status_code == 404  # nothing to undo


def test_undo_is_not_offered_once_the_link_was_changed(app, auth, world, admin):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    scan(app)
    (finding,) = opened("stale_connect_link")
    fix(auth, finding, "clear_connect_link")
    User.update(connect_link="https://meet.example.edu/tom").execute()
    assert fix(auth, finding, "undo_clear_connect_link").status_code == 404
    assert User.get_by_id(tom.id).connect_link == "https://meet.example.edu/tom"


def test_keep_the_zoom_account_for_the_newest_tutor(app, auth, world, admin):
    first = world["tutor_a"]
    second = make_user("tutor.a2@x.edu", "tutor", [world["a"]], name="Tess Second")
    connect(app, first, "licensed", session=False)
    connect(app, second, "licensed")  # Zoom now honours only this authorization
    scan(app)
    mine = [f for f in opened("duplicate_authorization") if f.tutor_id == first.id][0]
    page = auth.get(f"/admin/health/findings/{mine.id}").get_data(as_text=True)
    assert "Tess Second" in page and "the one Zoom honours" in page

    response = fix(auth, mine, "keep_authorization", keep=str(second.id))
    assert response.status_code == 303
    ended = ZoomConnection.get(ZoomConnection.tutor == first.id)
    assert ended.ended_at is not None and ended.access_token_enc is None
    kept = ZoomConnection.get(ZoomConnection.tutor == second.id)
    assert kept.ended_at is None and kept.status == "active"
    assert sim_state(app).grants_of("licensed")[0].revoked is False  # no revoke at Zoom
    (entry,) = audited("health.disconnect_duplicate")
    assert entry.target_id == first.id and entry.after["revoked_at_zoom"] is False
    assert opened("duplicate_authorization") == []
    assert "connection_broken" not in {f.check for f in opened()}


def test_keep_for_another_centers_tutor_disconnects_only_mine(app, auth, world, admin):
    ZoomConnection.create(tutor=world["tutor_b"], zoom_user_id="zoom-shared", email="z@x.edu")
    connect(app, world["tutor_a"], "licensed", session=False)
    ZoomConnection.update(zoom_user_id="zoom-shared").where(
        ZoomConnection.tutor == world["tutor_a"].id
    ).execute()
    scan(app)
    mine = opened("duplicate_authorization", world["tutor_a"])[0]
    page = auth.get(f"/admin/health/findings/{mine.id}").get_data(as_text=True)
    assert "A tutor in another center keeps it" in page and "Tia Tutor" not in page
    assert f'"tutor_id": {world["tutor_b"].id},' not in page and "another center" in page
    refused = fix(auth, mine, "keep_authorization", htmx=True, keep=str(world["tutor_a"].id))
    assert refused.status_code == 400 and "ask their center" in refused.get_data(as_text=True)
    assert fix(auth, mine, "keep_authorization", keep="other").status_code == 303
    assert ZoomConnection.for_tutor(world["tutor_a"]) is None
    assert ZoomConnection.for_tutor(world["tutor_b"]) is not None


def test_recreate_todays_session_after_it_was_deleted_in_zoom(app, auth, world, admin):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    old = DailySession.get()
    sim_state(app).zoom_delete_meeting(old.zoom_meeting_id, notify=False)
    scan(app)
    (finding,) = opened("session_mismatch")
    response = fix(auth, finding, "recreate_session", htmx=True, confirm="1")
    assert response.status_code == 200, response.get_data(as_text=True)
    new = DailySession.get_by_id(old.id)
    assert new.zoom_meeting_id != old.zoom_meeting_id and new.status == "scheduled"
    assert new.uuid != old.uuid and new.join_url != old.join_url and new.host_id == old.host_id
    meeting = sim_state(app).meeting(new.zoom_meeting_id)
    assert meeting.topic.startswith("Daily Session") and not meeting.deleted
    (entry,) = audited("health.recreate_session")
    assert entry.before == {"meeting_id": old.zoom_meeting_id, "deleted_at_zoom": False}
    assert entry.after["meeting_id"] == new.zoom_meeting_id
    assert Finding.get_by_id(finding.id).resolved_at is not None
    assert daily.format_meeting_number(new.zoom_meeting_id) in response.get_data(as_text=True)


def test_recreate_deletes_the_old_meeting_when_zoom_still_has_it(app, auth, world, admin):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    old_id = today_meeting(tom)
    move_to_another_day(app, tom, old_id)
    scan(app)
    (finding,) = opened("session_mismatch")
    assert finding.evidence["kind"] == "other_date"
    fix(auth, finding, "recreate_session", confirm="1")
    assert sim_state(app).meeting(old_id).deleted is True
    assert audited("health.recreate_session")[0].before["deleted_at_zoom"] is True
    assert opened("session_mismatch") == []


def test_recreate_without_the_delete_scope_still_replaces_and_says_so(app, auth, world, admin):
    from portal.zoom.simulator.tokens import GRANULAR_SCOPES

    zoom = sim_state(app)
    zoom.config.scope_mode = "granular"
    zoom.config.scopes = tuple(s for s in GRANULAR_SCOPES if s != "meeting:delete:meeting")
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    old_id = today_meeting(tom)
    move_to_another_day(app, tom, old_id)
    scan(app)
    (finding,) = opened("session_mismatch")
    response = fix(auth, finding, "recreate_session", htmx=True, confirm="1")
    html = response.get_data(as_text=True)
    new_id = DailySession.get().zoom_meeting_id
    assert new_id != old_id and zoom.meeting(old_id).deleted is False
    assert "could not be deleted" in html and daily.format_meeting_number(old_id) in html
    assert daily.format_meeting_number(new_id) in html


def test_please_reconnect_notice_shows_on_the_tutors_panel(app, auth, world, admin):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    sim_state(app).revoke_user_tokens("licensed")
    scan(app)
    (finding,) = opened("connection_broken")
    assert fix(auth, finding, "notify_reconnect").status_code == 303
    (notice,) = TutorNotice.select()
    assert notice.finding_id == finding.id and notice.sent_by_id == admin.id
    assert audited("health.notify_reconnect")[0].after["notice"] == notice.id
    page = auth.get(f"/admin/health/findings/{finding.id}").get_data(as_text=True)
    assert "Notice sent" in page
    auth.logout()
    auth.as_user(tom)
    panel = auth.get("/tutor/preferences").get_data(as_text=True)
    assert "asks you to reconnect Zoom" in panel
    connect(app, tom, "licensed")  # reconnecting clears it
    assert "asks you to reconnect" not in auth.get("/tutor/preferences").get_data(as_text=True)


def test_reverify_now_after_the_cause_was_fixed_elsewhere(app, auth, world, admin):
    connect(app, world["tutor_a"], "licensed")
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    scan(app)
    (finding,) = opened("stale_connect_link")
    User.update(connect_link=None).execute()
    response = fix(auth, finding, "reverify", htmx=True)
    assert "the problem is gone" in response.get_data(as_text=True)
    assert Finding.get_by_id(finding.id).resolved_at is not None
    assert audited("health.reverify")[0].after == {
        "still_open": False,
        "finding": finding.id,
        "check": "stale_connect_link",
    }


def test_fixes_that_do_not_apply_are_404(app, auth, world, admin):
    key = findings.tutor_key("same_device", world["tutor_a"].id)
    finding = findings.open_finding("same_device", key, "info", world["a"], world["tutor_a"], "x")
    assert fix(auth, finding, "recreate_session").status_code == 404
    assert fix(auth, finding, "no_such_fix").status_code == 404
    assert AuditEntry.select().where(AuditEntry.action.startswith("health.")).count() == 0


def count_zoom_calls(monkeypatch):
    """Count every API request the portal's Zoom client makes from now on."""
    from portal.zoom import client

    calls = []
    real = client._Api.request

    def counted(self, *args, **kwargs):
        calls.append(args[:2])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(client._Api, "request", counted)
    return calls


def online_now(tutor, student, center, ago=5, **fields):
    """An online appointment in progress (so it is "today" in any time zone)."""
    import datetime

    from portal.models import Appointment, utcnow

    now = utcnow().replace(microsecond=0)
    return Appointment.create(
        student=student,
        tutor=tutor,
        center=center,
        kind="online",
        start_at=now - datetime.timedelta(minutes=ago),
        end_at=now + datetime.timedelta(minutes=25),
        **fields,
    )


@pytest.mark.parametrize("htmx", [True, False])
def test_recreate_asks_first_with_counts_and_changes_nothing(
    app, auth, world, admin, monkeypatch, htmx
):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    old = DailySession.get()
    sim_state(app).zoom_delete_meeting(old.zoom_meeting_id, notify=False)
    scan(app)
    (finding,) = opened("session_mismatch")
    for ago in (1, 2, 3):
        online_now(tom, world["student_a"], world["a"], ago)
    online_now(tom, world["student_a"], world["a"], 4, status="cancelled")  # not counted
    online_now(world["tutor_b"], world["student_b"], world["b"])  # another tutor's
    calls = count_zoom_calls(monkeypatch)

    response = fix(auth, finding, "recreate_session", htmx=htmx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Recreate Tom Tutor's Daily Session?" in html
    assert "3 online appointments today" in html
    assert daily.format_meeting_number(old.zoom_meeting_id) in html
    assert 'name="confirm" value="1"' in html
    assert calls == []  # nothing was asked of Zoom
    assert DailySession.get_by_id(old.id).zoom_meeting_id == old.zoom_meeting_id
    assert audited("health.recreate_session") == []
    assert Finding.get_by_id(finding.id).resolved_at is None

    done = fix(auth, finding, "recreate_session", htmx=True, confirm="1")
    assert "Recreated Tom Tutor" in done.get_data(as_text=True)
    assert DailySession.get_by_id(old.id).zoom_meeting_id != old.zoom_meeting_id
    assert len(audited("health.recreate_session")) == 1 and calls


def test_evidence_is_a_readable_list_with_zoms_answer_in_details(app, auth, world, admin):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    old = DailySession.get()
    sim_state(app).zoom_delete_meeting(old.zoom_meeting_id, notify=False)
    scan(app)
    (finding,) = opened("session_mismatch")
    assert "zoom_answer" in finding.evidence
    html = auth.get(f"/admin/health/findings/{finding.id}").get_data(as_text=True)
    evidence = html[html.index("<h2>Evidence</h2>") :]
    listed, raw = evidence.split('<details class="raw-evidence">', 1)
    number = daily.format_meeting_number(old.zoom_meeting_id)
    assert "<dt>Meeting number</dt><dd>" + number + "</dd>" in listed
    assert "<dt>Zoom&#39;s answer</dt>" in listed and "Zoom error 3001" in listed
    assert "<dt>Problems</dt><dd>the meeting no longer exists in Zoom</dd>" in listed
    for raw_key in ("zoom_answer", "meeting_id", "host_id", "{", "session_mismatch"):
        assert raw_key not in listed
    assert "<summary>Details</summary>" in raw
    assert "zoom_answer" in raw and "3001" in raw  # the raw answer, behind the disclosure
    head = html[: html.index("<h2>Evidence</h2>")]
    assert ">Critical<" in head and "session_mismatch" not in head.split('id="finding-detail"')[1]
