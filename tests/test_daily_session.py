"""Today's Daily Session: created once per tutor-day, shown, started, listed, checked."""

import datetime
import threading

import pytest
from support.zoom import sim_state, simulator_config

from portal import daily
from portal.models import Center, DailySession, ZoomConnection
from portal.zoom.wiring import gateway


@pytest.fixture
def app_config(app_config):
    return simulator_config(app_config)


def daily_meetings(app, key="licensed"):
    return [m for m in sim_state(app).meetings_of(key) if m.topic.startswith("Daily Session")]


def prepare(auth):
    return auth.post("/tutor/daily-session", {}, htmx=True, token_path="/tutor/preferences")


def test_panel_prepares_and_shows_todays_session(app, auth, client, connected, world):
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert 'hx-trigger="load"' in page  # the panel asks for today's session once loaded
    response = prepare(auth)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    (meeting,) = daily_meetings(app)
    number = daily.format_meeting_number(meeting.id)
    assert number in html and len(number.replace(" ", "")) == 11
    session = DailySession.get()
    today = daily.center_today(world["a"])
    assert session.date == today and session.zoom_meeting_id == meeting.id
    assert session.status == "scheduled" and session.host_id == meeting.host_id
    assert meeting.topic == f"Daily Session {today.isoformat()}"
    assert (
        meeting.settings["waiting_room"] is True and meeting.settings["join_before_host"] is False
    )
    assert f"vmp:{connected.id}:{today.isoformat()}" in meeting.agenda
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert number in page and "Start" in page and "Read Full Documentation" in page


def test_preparing_without_htmx_says_so(app, auth, client, connected):
    response = auth.post("/tutor/daily-session", {}, token_path="/tutor/preferences")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Today&#39;s Daily Session is ready: its number is on this page." in page
    again = auth.post("/tutor/daily-session", {}, token_path="/tutor/preferences")
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "Today&#39;s Daily Session was already ready." in page
    assert len(daily_meetings(app)) == 1


def test_preparing_twice_creates_one_meeting(app, auth, connected):
    prepare(auth)
    prepare(auth)
    assert len(daily_meetings(app)) == 1
    assert DailySession.select().count() == 1


def test_sixteen_concurrent_ensures_make_one_create(app, connected):
    tutor = connected
    results, errors = [], []
    barrier = threading.Barrier(16)

    def worker():
        from portal import db as dbmod

        try:
            with app.app_context():
                barrier.wait()
                result = daily.ensure_daily_session(tutor, gateway(app))
                results.append(result.outcome)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            if not dbmod.database.is_closed():
                dbmod.database.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert results.count("created") == 1
    assert set(results) <= {"created", "existing", "busy"}
    assert len(daily_meetings(app)) == 1
    assert DailySession.select().count() == 1
    assert DailySession.get().status == "scheduled"


def test_ambiguous_create_is_adopted_not_duplicated(app, connected):
    tutor = connected
    state = sim_state(app)
    state.set_latency(0.3)

    def slow_client(t):
        client = gateway(app)(t)
        client._api.settings = client.settings.__class__(
            **{**client.settings.__dict__, "timeout": (1, 0.1)}
        )
        return client

    result = daily.ensure_daily_session(tutor, slow_client)
    state.set_latency(0)
    # the create reached Zoom but the answer timed out: found by its marker
    assert result.outcome in {"adopted", "failed"}
    if result.outcome == "failed":
        again = daily.ensure_daily_session(
            tutor,
            gateway(app),
            now=result.session.lease_until + datetime.timedelta(seconds=1),
        )
        assert again.outcome == "adopted"
    assert len(daily_meetings(app)) == 1
    assert DailySession.get().zoom_meeting_id == daily_meetings(app)[0].id


def test_rate_limited_create_fails_until_reset(app, auth, connected):
    sim_state(app).fail_next(count=1, status=429)
    result = daily.ensure_daily_session(connected, gateway(app))
    assert result.outcome == "failed"
    row = DailySession.get()
    assert row.status == "failed" and row.lease_until > row.created_at
    # until the retry time nobody calls Zoom again for this tutor-day
    assert daily.ensure_daily_session(connected, gateway(app)).outcome == "busy"
    html = client_html = prepare(auth).get_data(as_text=True)
    assert "could not be prepared" in html and client_html
    later = row.lease_until + datetime.timedelta(seconds=1)
    again = daily.ensure_daily_session(connected, gateway(app), now=later)
    assert again.outcome == "created" and len(daily_meetings(app)) == 1


def test_session_uses_center_hours_and_waiting_room_default(app, connected, world):
    Center.update(opens_at="10:00", closes_at="14:30", waiting_room_default=False).where(
        Center.id == world["a"].id
    ).execute()
    daily.ensure_daily_session(connected, gateway(app))
    (meeting,) = daily_meetings(app)
    assert meeting.duration == 270
    assert meeting.settings["waiting_room"] is False
    assert meeting.timezone == "America/New_York"


def test_start_fetches_a_fresh_url_each_time(app, auth, client, connected):
    prepare(auth)
    session = DailySession.get()
    first = client.get(f"/tutor/sessions/{session.id}/start")
    second = client.get(f"/tutor/sessions/{session.id}/start")
    assert first.status_code == second.status_code == 303
    assert f"/s/{session.zoom_meeting_id}" in first.headers["Location"]
    assert "zak=" in first.headers["Location"]
    assert first.headers["Location"] != second.headers["Location"]
    assert sim_state(app).start_url_valid(second.headers["Location"])
    assert session.zoom_meeting_id and "zak" not in str(DailySession.get().__data__)


def test_start_is_refused_to_everyone_but_the_owner(app, auth, client, connected, world):
    prepare(auth)
    session = DailySession.get()
    auth.logout()
    from support import make_user

    other = make_user("t2@x.edu", "tutor", [world["a"]])
    auth.as_user(other)
    assert client.get(f"/tutor/sessions/{session.id}/start").status_code == 404
    auth.logout()
    for who in ("student_a", "admin_a", "account_admin"):
        auth.as_user(world[who])
        assert client.get(f"/tutor/sessions/{session.id}/start").status_code == 403
        auth.logout()


def test_start_when_meeting_deleted_in_zoom_explains(app, auth, client, connected):
    prepare(auth)
    session = DailySession.get()
    sim_state(app).zoom_delete_meeting(session.zoom_meeting_id, notify=False)
    response = client.get(f"/tutor/sessions/{session.id}/start")
    assert response.status_code == 303 and response.headers["Location"] == "/tutor/preferences"
    assert "no longer exists in Zoom" in client.get("/tutor/preferences").get_data(as_text=True)


def test_meetings_tab_lists_today_upcoming_and_past(app, auth, client, connected, world):
    prepare(auth)
    today = daily.center_today(world["a"])
    for days, status in ((-3, "ended"), (2, "scheduled"), (-40, "ended")):
        DailySession.create(
            tutor=connected,
            center=world["a"],
            date=today + datetime.timedelta(days=days),
            status=status,
            zoom_meeting_id=81234567890 + days,
        )
    html = client.get("/tutor/meetings").get_data(as_text=True)
    assert (
        daily.format_meeting_number(DailySession.get(DailySession.date == today).zoom_meeting_id)
        in html
    )
    assert daily.format_meeting_number(81234567887) in html  # 3 days ago
    assert daily.format_meeting_number(81234567892) in html  # upcoming
    assert daily.format_meeting_number(81234567850) not in html  # older than 30 days
    assert html.count(">Start</a>") == 1


def test_check_my_setup_all_green(app, auth, client, connected):
    prepare(auth)
    html = client.get("/tutor/setup?run=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.count('class="check-row ok"') == 9, html  # 8 rows + Zoom permissions
    assert 'class="check-row bad"' not in html


@pytest.mark.parametrize(
    "breakage, check",
    [
        ("basic", "licensed"),
        ("google", "login"),
        ("deleted", "session"),
        ("connect_link", "connect_link"),
        ("revoked", "token"),
        ("no_session", "session"),
    ],
)
def test_check_my_setup_names_each_failure(app, auth, client, connected, breakage, check):
    state = sim_state(app)
    if breakage != "no_session":
        prepare(auth)
    if breakage == "basic":
        state.downgrade_to_basic("licensed")
    elif breakage == "google":
        state.set_login_method("licensed", [1])
    elif breakage == "deleted":
        state.zoom_delete_meeting(DailySession.get().zoom_meeting_id, notify=False)
    elif breakage == "connect_link":
        from portal.models import User

        User.update(connect_link="https://us06web.zoom.us/j/5551234567").where(
            User.id == connected.id
        ).execute()
    elif breakage == "revoked":
        state.revoke_user_tokens("licensed")
        state.expire_access_tokens("licensed")
    html = client.get("/tutor/setup?run=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'class="check-row bad" data-check="{check}"' in html, html
    assert "What to do:" in html


def test_check_my_setup_network_error_is_not_a_red_row(app, auth, client, connected):
    prepare(auth)
    sim_state(app).fail_next(count=20, status=503)
    html = client.get("/tutor/setup?run=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'class="check-row unknown"' in html
    assert "Could not check" in html


def test_shared_zoom_account_shows_in_setup(app, auth, client, connected, world):
    from support import make_user

    other = make_user("t9@x.edu", "tutor", [world["a"]])
    ZoomConnection.create(tutor=other, zoom_user_id=sim_state(app).user("licensed").id, email="x@y")
    prepare(auth)
    html = client.get("/tutor/setup?run=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'class="check-row bad" data-check="not_shared"' in html


def test_provision_cli_is_idempotent(app, runner, connected, world):
    first = runner.invoke(args=["portal", "provision"])
    assert first.exit_code == 0, first.output
    assert "1 created" in first.output and connected.email in first.output
    second = runner.invoke(args=["portal", "provision"])
    assert "1 existing" in second.output and "0 created" in second.output
    assert len(daily_meetings(app)) == 1
    bad = runner.invoke(args=["portal", "provision", "--date", "tomorrow"])
    assert bad.exit_code == 1 and "is not a date" in bad.output


def test_provision_for_a_date_and_skips_disabled_centers(app, runner, connected, world):
    day = daily.center_today(world["a"]) + datetime.timedelta(days=1)
    result = runner.invoke(args=["portal", "provision", "--date", day.isoformat()])
    assert "1 created" in result.output
    assert DailySession.get().date == day
    Center.update(virtual_meetings_enabled=False).execute()
    result = runner.invoke(args=["portal", "provision"])
    assert "0 created" in result.output and "0 failed" in result.output
