"""The simulator's own meeting pages behind start_url (`/s/<id>?zak=`) and join_url
(`/j/<id>?pwd=`), and the URL shapes with and without `SimConfig.meeting_url_base`."""

import re
from urllib.parse import urlencode, urlsplit

import pytest
from zoom_sim_helpers import TIMEOUT

from portal.zoom.simulator import create_sim_app
from portal.zoom.simulator.meeting_data import format_meeting_number

BASE = "http://localhost"  # the test client's host, so the links are followed as they are
MEETING_ID = 85746065432
BODY = {"topic": "Daily Session", "type": 2, "start_time": "2026-03-03T09:00:00Z"}


@pytest.fixture
def sim_options():
    return {"meeting_url_base": BASE}


@pytest.fixture
def client(sim_app):
    return sim_app.test_client()


@pytest.fixture
def make_meeting(state):
    """Return `make_meeting(**settings) -> (meeting, meeting_json)` for the licensed user."""
    ids = iter([MEETING_ID, 85746065433, 85746065434])
    state._new_meeting_id = lambda: next(ids)

    def make(user="licensed", **settings):
        meeting = state.create_meeting(state.user(user), {**BODY, "settings": settings})
        return meeting, state.meeting_json(meeting)

    return make


def events(state, name=None):
    return [d.event for d in state.webhooks.events(name)]


def with_name(join_url, name):
    """Return the join link with a `uname` display name added."""
    return f"{join_url}{'&' if '?' in join_url else '?'}{urlencode({'uname': name})}"


def assert_plain_page(response):
    """A page the portal's CSP allows: no scripts, no inline styles, the portal's stylesheet."""
    html = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "<script" not in html and "<style" not in html and "style=" not in html
    assert 'href="/static/css/app.css"' in html
    assert response.headers["Cache-Control"] == "no-store"
    return html


# URL shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sim_options", [{}])
def test_real_zoom_shapes_without_a_base(state, sim_options):
    meeting = state.create_meeting(state.user("basic"), BODY)
    data = state.meeting_json(meeting)
    assert data["join_url"] == (
        f"https://us05web.zoom.us/j/{meeting.id}?pwd={meeting.encrypted_password}.1"
    )
    assert data["start_url"].startswith(f"https://us05web.zoom.us/s/{meeting.id}?zak=eyJ")
    user = state.user("basic")
    profile = user.to_json(state.now(), state.config.meeting_url_base)
    assert profile["personal_meeting_url"] == f"https://us05web.zoom.us/j/{user.pmi}"


@pytest.mark.parametrize("sim_options", [{"meeting_url_base": "http://127.0.0.1:5000/zoom-sim/"}])
def test_links_point_at_the_simulator_with_a_base(sign_in, api, state, sim_options):
    access = sign_in()["access_token"]
    created = api("POST", "/users/me/meetings", access, json=BODY).json()
    base = "http://127.0.0.1:5000/zoom-sim"
    meeting = state.meeting(created["id"])
    assert created["join_url"] == f"{base}/j/{meeting.id}?pwd={meeting.encrypted_password}.1"
    assert re.fullmatch(rf"{base}/s/{meeting.id}\?zak=eyJ[\w.-]+", created["start_url"])
    fetched = api("GET", f"/meetings/{meeting.id}", access).json()
    assert fetched["start_url"] != created["start_url"]  # a fresh zak on every read
    listed = api("GET", "/users/me/meetings", access).json()["meetings"][0]
    assert listed["join_url"] == created["join_url"]
    me = api("GET", "/users/me", access).json()
    assert me["personal_meeting_url"] == f"{base}/j/{me['pmi']}"


def test_meeting_numbers_are_grouped_like_zoom():
    assert format_meeting_number(85746065432) == "857 4606 5432"
    assert format_meeting_number(3542471135) == "354 247 1135"
    assert format_meeting_number("857460654") == "857 460 654"
    assert format_meeting_number(12345) == "12345"


# host: /s/<id>?zak= -----------------------------------------------------------------------------


def test_start_link_starts_the_meeting_and_shows_the_host_view(client, state, make_meeting):
    meeting, data = make_meeting(waiting_room=True)
    page = client.get(data["start_url"])
    assert page.status_code == 200
    html = assert_plain_page(page)
    assert "You are hosting Daily Session, meeting 857 4606 5432" in html
    assert "Lena Licensed" in html and "Waiting room (0)" in html
    assert 'class="badge on">On</span>' in html  # the waiting room is on
    assert "End meeting" in html
    assert meeting.status == "started" and meeting.started_at == state.now()
    [started] = state.webhooks.events("meeting.started")
    assert started.payload["object"]["id"] == str(MEETING_ID)
    # Reloading the page (or a second start link) does not start it again.
    assert client.get(state.meeting_json(meeting)["start_url"]).status_code == 200
    assert events(state) == ["meeting.started"]


@pytest.mark.parametrize("problem", ["missing", "unknown", "expired", "other meeting"])
def test_a_bad_zak_is_refused(client, state, clock, make_meeting, problem):
    meeting, data = make_meeting()
    _, other = make_meeting()
    url = {
        "missing": f"/s/{meeting.id}",
        "unknown": f"/s/{meeting.id}?zak=eyJforged",
        "expired": data["start_url"],
        "other meeting": f"/s/{meeting.id}?{urlsplit(other['start_url']).query}",
    }[problem]
    if problem == "expired":
        clock.advance(hours=2)
    page = client.get(url)
    assert page.status_code == 403
    html = assert_plain_page(page)
    assert "This start link cannot be used" in html and 'class="alert alert-error"' in html
    assert {"missing": "no zak", "unknown": "not issued", "expired": "expired"}.get(
        problem, "another meeting"
    ) in html
    assert meeting.status == "waiting" and events(state) == []
    assert client.post(f"/s/{meeting.id}/end", data={"zak": "nope"}).status_code == 403


@pytest.mark.parametrize("path", ["abc", "12a", "١٢٣", "-5", "1.5", "%20123", "9" * 5000])
@pytest.mark.parametrize("kind", ["s", "j"])
def test_meeting_ids_in_urls_must_be_numeric(client, kind, path):
    assert client.get(f"/{kind}/{path}").status_code == 404


def test_unknown_or_deleted_meetings_have_a_not_found_page(client, state, make_meeting):
    assert "Meeting 123 4567 8901 does not exist" in client.get("/j/12345678901").text
    meeting, data = make_meeting()
    state.zoom_delete_meeting(meeting.id, notify=False)
    for url in (data["join_url"], data["start_url"]):
        page = client.get(url)
        assert page.status_code == 404 and "does not exist or has expired" in page.text


def test_end_meeting_button(client, state, make_meeting):
    meeting, data = make_meeting()
    zak = urlsplit(data["start_url"]).query.removeprefix("zak=")
    client.get(data["start_url"])
    ended = client.post(f"/s/{meeting.id}/end", data={"zak": zak})
    assert ended.status_code == 303
    assert ended.headers["Location"] == f"/s/{meeting.id}/ended"
    assert meeting.status == "waiting" and meeting.ended_at == state.now()
    assert events(state) == ["meeting.started", "meeting.ended"]
    notice = client.get(ended.headers["Location"])
    assert "Meeting 857 4606 5432 has ended for everyone." in assert_plain_page(notice)
    assert client.post(f"/s/{meeting.id}/end", data={"zak": zak}).status_code == 303
    assert events(state) == ["meeting.started", "meeting.ended"]  # ending twice sends nothing


# participants: /j/<id>?pwd= ----------------------------------------------------------------------


@pytest.mark.parametrize("pwd", [None, "", "wrong", "ünïcode"])
def test_a_missing_or_wrong_passcode_is_refused(client, state, make_meeting, pwd):
    meeting, _ = make_meeting()
    state.start_meeting(meeting.id)
    page = client.get(f"/j/{meeting.id}", query_string={} if pwd is None else {"pwd": pwd})
    assert page.status_code == 403
    assert "Wrong meeting passcode" in assert_plain_page(page)
    assert meeting.participants == {}
    assert events(state) == ["meeting.started"]


def test_waiting_room_then_the_host_admits(client, state, make_meeting):
    meeting, data = make_meeting(waiting_room=True)
    page = client.get(with_name(data["join_url"], "Ann Student"))
    assert page.status_code == 200
    html = assert_plain_page(page)
    assert "You are joining meeting 857 4606 5432 (Daily Session)" in html
    assert "Please wait, the host will let you in soon" in html
    [waiting] = state.webhooks.events("meeting.participant_joined_waiting_room")
    assert waiting.payload["object"]["participant"]["user_name"] == "Ann Student"
    [(pid, person)] = meeting.participants.items()
    assert person["state"] == "waiting"

    host = client.get(data["start_url"])
    assert "Waiting room (1)" in host.text and "Ann Student" in host.text
    zak = urlsplit(data["start_url"]).query.removeprefix("zak=")
    admitted = client.post(f"/s/{meeting.id}/admit", data={"zak": zak, "participant": pid})
    assert admitted.status_code == 303
    assert urlsplit(admitted.headers["Location"]).path == f"/s/{meeting.id}"
    assert person["state"] == "joined"
    assert events(state) == [
        "meeting.participant_joined_waiting_room",
        "meeting.started",
        "meeting.participant_admitted",
        "meeting.participant_joined",
    ]
    after = client.get(admitted.headers["Location"]).text
    assert "Waiting room (0)" in after and "In the meeting (1)" in after
    again = client.post(f"/s/{meeting.id}/admit", data={"zak": zak, "participant": pid})
    assert again.status_code == 409 and "Cannot admit" in again.text


def test_direct_join_once_the_host_has_started(client, state, make_meeting):
    meeting, data = make_meeting(waiting_room=False)
    early = client.get(data["join_url"])
    assert "The host has not started this meeting yet." in assert_plain_page(early)
    assert meeting.participants == {} and events(state) == []
    client.get(data["start_url"])
    page = client.get(with_name(data["join_url"], "Bo"))
    assert "You are in the meeting." in assert_plain_page(page)
    assert "Please wait" not in page.text
    [joined] = state.webhooks.events("meeting.participant_joined")
    assert joined.payload["object"]["participant"]["user_name"] == "Bo"
    assert events(state) == ["meeting.started", "meeting.participant_joined"]


def test_join_before_host_starts_the_meeting(client, state, make_meeting):
    meeting, data = make_meeting(join_before_host=True)
    page = client.get(data["join_url"])
    assert "You are in the meeting." in page.text and "Guest" in page.text
    assert meeting.status == "started"
    assert events(state) == ["meeting.started", "meeting.participant_joined"]


def test_display_name_is_capped_and_escaped(client, state, make_meeting):
    meeting, data = make_meeting()
    state.start_meeting(meeting.id)
    name = "<script>alert(1)</script>" + "x" * 100
    page = client.get(with_name(data["join_url"], name))
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    [(_, person)] = meeting.participants.items()
    assert person["user_name"] == name[:64]


def test_a_meeting_without_passcode_needs_no_pwd(client, state):
    state.config.require_passcode = False
    meeting = state.create_meeting(state.user("licensed"), BODY)
    assert state.meeting_json(meeting)["join_url"] == f"{BASE}/j/{meeting.id}"
    state.start_meeting(meeting.id)
    assert client.get(f"/j/{meeting.id}").status_code == 200
    assert events(state, "meeting.participant_joined")


# over real HTTP, and with a URL prefix ------------------------------------------------------------


def test_pages_over_http_deliver_webhooks_after_the_response(live, http, state, receiver):
    state.config.meeting_url_base = live
    meeting = state.create_meeting(state.user("licensed"), BODY)
    data = state.meeting_json(meeting)
    page = http.get(data["start_url"], timeout=TIMEOUT)
    assert page.status_code == 200 and "You are hosting Daily Session" in page.text
    http.get(data["join_url"], params={"uname": "Cy"}, timeout=TIMEOUT)
    delivered = receiver.wait_for(2)
    assert [r["valid"] for r in delivered] == [True, True]
    assert [e["event"] for e in receiver.events] == [
        "meeting.started",
        "meeting.participant_joined",
    ]


def test_pages_under_a_prefix(clock):
    app = create_sim_app(clock=clock, url_prefix="/zoom-sim", meeting_url_base=f"{BASE}/zoom-sim")
    state = app.extensions["zoom_sim"]
    meeting = state.create_meeting(state.user("tutor1"), BODY)
    client = app.test_client()
    page = client.get(state.meeting_json(meeting)["start_url"])
    assert page.status_code == 200 and "Tara Tutor" in page.text
    assert f'action="/zoom-sim/s/{meeting.id}/end"' in page.text
    assert client.get("/zoom-sim/j/not-a-number").status_code == 404
    state.close()
