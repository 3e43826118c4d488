"""The REST client against the simulator: meetings, retries, timeouts and error mapping."""

import datetime
import email.utils
import socket

import pytest
import requests

from portal.models import utcnow
from portal.zoom import (
    ZoomAmbiguous,
    ZoomClient,
    ZoomError,
    ZoomNotFound,
    ZoomPermissionError,
    ZoomRateLimited,
    ZoomScopeError,
    ZoomUnavailable,
    ZoomValidationError,
)
from portal.zoom.bodies import meeting_body, meeting_patch

from .helpers import Sim, connect, make_settings, make_tutor

DAY = datetime.datetime(2031, 5, 6, 14, 0, tzinfo=datetime.UTC)


class Sleeps(list):
    """An injected sleep that records the delays asked for and never sleeps."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def now():
    return utcnow().replace(microsecond=0)


@pytest.fixture
def linked(zoom, http, sleeps, now):
    """(client, connection, zoom user key) for a freshly connected tutor."""
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, make_tutor(), user)
    zoom.recorder.clear()
    client = ZoomClient(conn, zoom.settings, http=http, sleep=sleeps, clock=lambda: now)
    return client, conn, user


def body(topic="Daily Session", **kw):
    return meeting_body(topic=topic, start_time=DAY, duration=60, timezone="America/New_York", **kw)


# --- the happy paths -------------------------------------------------------------------------


def test_meeting_lifecycle(linked, zoom):
    client, _, user = linked
    created = client.create_meeting(body(agenda="portal:claim-1", waiting_room=True))
    meeting_id = created["id"]
    assert isinstance(meeting_id, int) and created["join_url"].startswith("https://")
    assert created["start_time"] == "2031-05-06T14:00:00Z"
    assert created["settings"]["waiting_room"] is True
    assert created["settings"]["join_before_host"] is False
    got = client.get_meeting(meeting_id)
    assert got["id"] == meeting_id and got["host_email"] == f"{user}@example.com"
    assert client.update_meeting(meeting_id, meeting_patch(topic="Renamed")) is None
    assert zoom.recorder.last("PATCH", "/v2/meetings/").json == {"topic": "Renamed"}
    assert client.get_meeting(str(meeting_id))["topic"] == "Renamed"
    assert [m["id"] for m in client.list_meetings()] == [meeting_id]
    assert client.delete_meeting(meeting_id) is True
    assert client.delete_meeting(meeting_id) is False  # 404 3001 on delete counts as success
    with pytest.raises(ZoomNotFound) as info:
        client.get_meeting(meeting_id)
    assert info.value.code == 3001
    assert zoom.recorder.last("DELETE", "/v2/meetings/").query == {"schedule_for_reminder": "false"}


def test_list_follows_every_page(linked, zoom):
    client, _, _ = linked
    ids = {client.create_meeting(body(f"M{i}"))["id"] for i in range(5)}
    zoom.recorder.clear()
    assert {m["id"] for m in client.list_meetings(page_size=2)} == ids
    pages = [c for c in zoom.recorder.calls if c.path == "/v2/users/me/meetings"]
    assert len(pages) == 3
    assert "next_page_token" not in pages[0].query
    assert pages[1].query["next_page_token"] and pages[2].query["next_page_token"]


def test_bad_meeting_id_is_refused_locally(linked, zoom):
    client, _, _ = linked
    for bad in ("../users/me", "12 34", -5, True, None):
        with pytest.raises(ValueError):
            client.get_meeting(bad)
    assert zoom.recorder.calls == []


# --- retries ---------------------------------------------------------------------------------


def test_get_honours_retry_after_seconds(linked, zoom, sleeps):
    client, _, _ = linked
    zoom.recorder.add(
        "GET",
        "/v2/users/me",
        429,
        {"code": 429, "message": "per-second"},
        {"Retry-After": "2", "X-RateLimit-Type": "QPS"},
    )
    assert client.me()
    assert sleeps == [2.0]
    assert zoom.recorder.count("GET", "/v2/users/me") == 2


def test_get_honours_retry_after_http_date(linked, zoom, sleeps, now):
    client, _, _ = linked
    when = (now + datetime.timedelta(seconds=3)).replace(tzinfo=datetime.UTC)
    zoom.recorder.add(
        "GET",
        "/v2/users/me",
        503,
        {"code": 503, "message": "busy"},
        {"Retry-After": email.utils.format_datetime(when, usegmt=True)},
    )
    client.me()
    assert sleeps == [3.0]


def test_daily_limit_is_not_retried(linked, zoom, sleeps, now):
    client, _, _ = linked
    reset = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time())
    zoom.recorder.add(
        "GET",
        "/v2/users/me/meetings",
        429,
        {"code": 429, "message": "daily"},
        {"X-RateLimit-Type": "Daily-limit", "Retry-After": reset.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    with pytest.raises(ZoomRateLimited) as info:
        client.list_meetings()
    assert info.value.daily and info.value.reset_at == reset
    assert sleeps == []
    assert zoom.recorder.api_calls() == 1


def test_backoff_with_full_jitter_without_retry_after(linked, zoom, sleeps):
    client, _, _ = linked
    zoom.state.fail_next(2, 503)
    assert client.me()
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0
    assert zoom.recorder.api_calls() == 3


def test_gives_up_after_three_attempts(linked, zoom, sleeps):
    client, _, _ = linked
    zoom.state.fail_next(5, 502)
    with pytest.raises(ZoomUnavailable) as info:
        client.get_meeting(12345678901)
    assert info.value.status == 502
    assert zoom.recorder.api_calls() == 3 and len(sleeps) == 2


def test_retry_after_beyond_the_budget_is_not_waited_for(linked, zoom, sleeps):
    client, _, _ = linked
    zoom.recorder.add(
        "GET",
        "/v2/users/me",
        429,
        {"code": 429, "message": "slow down"},
        {"Retry-After": "30", "X-RateLimit-Type": "QPS"},
    )
    with pytest.raises(ZoomRateLimited) as info:
        client.me()
    assert info.value.retry_after == 30.0 and not info.value.daily
    assert sleeps == [] and zoom.recorder.api_calls() == 1


def test_dropped_get_is_retried(zoom, http, sleeps):
    conn, _, _, _ = connect(zoom, http, make_tutor())
    quick = make_settings(zoom.url, timeout=(3.05, 0.3))
    client = ZoomClient(conn, quick, http=http, sleep=sleeps)
    zoom.recorder.clear()
    zoom.recorder.add("GET", "/v2/users/me", drop=True)
    assert client.me()
    assert len(sleeps) == 1 and zoom.recorder.api_calls() == 2


def test_delete_is_retried_and_idempotent(linked, zoom, sleeps):
    client, _, _ = linked
    meeting_id = client.create_meeting(body())["id"]
    zoom.recorder.add("DELETE", "/v2/meetings/", 503, {"code": 503, "message": "busy"})
    assert client.delete_meeting(meeting_id) is True
    assert zoom.recorder.count("DELETE") == 2 and len(sleeps) == 1


# --- writes are never retried blindly --------------------------------------------------------


def test_create_is_not_retried_on_5xx(linked, zoom, sleeps):
    client, _, _ = linked
    zoom.state.fail_next(1, 500)
    with pytest.raises(ZoomAmbiguous):
        client.create_meeting(body())
    assert zoom.recorder.count("POST", "/v2/") == 1 and sleeps == []


def test_create_timeout_is_ambiguous_then_reconciled_by_listing(zoom, http, sleeps):
    conn, _, _, _ = connect(zoom, http, make_tutor())
    zoom.recorder.clear()
    quick = make_settings(zoom.url, timeout=(3.05, 0.3))
    client = ZoomClient(conn, quick, http=http, sleep=sleeps)
    step = zoom.recorder.add("POST", "/v2/users/me/meetings", delay=0.6)
    with pytest.raises(ZoomAmbiguous):
        client.create_meeting(body(agenda="portal:claim-42"))
    assert step.done.wait(5)
    assert zoom.recorder.count("POST", "/v2/") == 1 and sleeps == []
    adopted = [m for m in client.list_meetings() if m.get("agenda") == "portal:claim-42"]
    assert len(adopted) == 1


def test_create_against_a_closed_port_is_not_ambiguous(zoom, http, tutor):
    conn, _, _, _ = connect(zoom, http, tutor)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = make_settings(zoom.url, api_base_url=f"http://127.0.0.1:{port}/v2")
    with pytest.raises(ZoomUnavailable) as info:
        ZoomClient(conn, dead, http=http).create_meeting(body())
    assert not isinstance(info.value, ZoomAmbiguous) and info.value.sent is False


def test_update_is_not_retried(linked, zoom, sleeps):
    client, _, _ = linked
    meeting_id = client.create_meeting(body())["id"]
    zoom.state.fail_next(1, 503)
    with pytest.raises(ZoomAmbiguous):
        client.update_meeting(meeting_id, meeting_patch(duration=45))
    assert zoom.recorder.count("PATCH") == 1 and sleeps == []


def test_per_user_daily_quota_on_create(linked, zoom, sleeps, now):
    client, _, _ = linked
    limit = zoom.state.config.user_daily_limit
    zoom.state.config.user_daily_limit = 1
    try:
        client.create_meeting(body())
        with pytest.raises(ZoomRateLimited) as info:
            client.create_meeting(body())
    finally:
        zoom.state.config.user_daily_limit = limit
    assert info.value.daily
    assert info.value.reset_at == datetime.datetime.combine(
        now.date() + datetime.timedelta(days=1), datetime.time()
    )
    assert zoom.recorder.count("POST", "/v2/") == 2 and sleeps == []


def test_redirects_are_not_followed(linked, zoom):
    client, _, _ = linked
    zoom.recorder.add("GET", "/v2/users/me", 302, "", {"Location": "http://127.0.0.1:9/steal"})
    with pytest.raises(ZoomError) as info:
        client.me()
    assert info.value.status == 302
    assert zoom.recorder.api_calls() == 1


class SpyAdapter(requests.adapters.HTTPAdapter):
    def __init__(self):
        super().__init__()
        self.timeouts = []

    def send(self, request, **kwargs):
        self.timeouts.append((request.path_url.split("?")[0], kwargs.get("timeout")))
        return super().send(request, **kwargs)


def test_every_call_has_a_timeout(zoom, tutor):
    spy = SpyAdapter()
    with requests.Session() as session:
        session.mount("http://", spy)
        conn, _, _, _ = connect(zoom, session, tutor)
        client = ZoomClient(conn, zoom.settings, http=session)
        client.me()
        from portal.zoom import revoke

        from .helpers import expire

        expire(conn)
        client.list_meetings()
        revoke(conn, zoom.settings, session)
    paths = {p for p, _ in spy.timeouts}
    assert {"/oauth/token", "/oauth/revoke", "/v2/users/me", "/v2/users/me/meetings"} <= paths
    client_calls = [(p, t) for p, t in spy.timeouts if not p.startswith("/oauth/authorize")]
    assert all(t == (3.05, 10) for _, t in client_calls), client_calls


# --- errors from the simulator ---------------------------------------------------------------


def test_validation_error(linked):
    client, _, _ = linked
    with pytest.raises(ZoomValidationError) as info:
        client.create_meeting({"topic": "x" * 201, "type": 2})
    assert info.value.code == 300 and info.value.errors[0]["field"] == "topic"


def test_paid_only_feature_for_a_basic_user(zoom, http):
    conn, _, _, _ = connect(zoom, http, make_tutor(), zoom.new_user(user_type=1))
    with pytest.raises(ZoomPermissionError) as info:
        ZoomClient(conn, zoom.settings, http=http).create_meeting(
            body(settings={"approval_type": 0})
        )
    assert info.value.code == 200


def test_user_who_may_not_host(zoom, http):
    conn, _, _, _ = connect(zoom, http, make_tutor(), zoom.new_user(user_type=4))
    with pytest.raises(ZoomPermissionError) as info:
        ZoomClient(conn, zoom.settings, http=http).create_meeting(body())
    assert info.value.code == 3161


def test_not_the_host(zoom, http):
    first, _, _, _ = connect(zoom, http, make_tutor())
    second, _, _, _ = connect(zoom, http, make_tutor())
    meeting_id = ZoomClient(first, zoom.settings, http=http).create_meeting(body())["id"]
    with pytest.raises(ZoomPermissionError) as info:
        ZoomClient(second, zoom.settings, http=http).update_meeting(meeting_id, {"topic": "x"})
    assert info.value.code == 3003


def test_missing_scope(http):
    with Sim(rate_limits=False, scopes=("user:read", "meeting:read")) as narrow:
        conn, _, _, _ = connect(narrow, http, make_tutor())
        with pytest.raises(ZoomScopeError) as info:
            ZoomClient(conn, narrow.settings, http=http).create_meeting(body())
    assert info.value.code == 4711 and info.value.status == 400


@pytest.mark.parametrize("kind", ["xml", "html", "empty"])
def test_non_json_error_bodies_are_survived(linked, zoom, kind):
    client, _, _ = linked
    zoom.state.fail_next(3, 500, body=kind)
    with pytest.raises(ZoomUnavailable) as info:
        client.me()
    assert info.value.status == 500
    if kind == "xml":
        assert info.value.code == 500 and info.value.message == "Internal Error"


def test_localized_message_is_ignored(linked, zoom):
    client, _, _ = linked
    zoom.recorder.add(
        "GET", "/v2/meetings/", 404, {"code": 3001, "message": "Встреча не существует: 1."}
    )
    with pytest.raises(ZoomNotFound) as info:
        client.get_meeting(12345678901)
    assert info.value.code == 3001


def test_same_code_path_over_the_wsgi_transport(tutor):
    """The app can mount the simulator in-process; the client code does not change."""
    from portal.zoom.transport import mount_simulator

    from .helpers import Sim as LiveSim

    base = "http://127.0.0.1:1"  # nothing listens here: every call must go through the adapter
    with LiveSim(rate_limits=False) as sim, requests.Session() as session:
        mount_simulator(session, base, sim.app)
        sim.settings = make_settings(base)
        conn, _, _, _ = connect(sim, session, tutor)
        client = ZoomClient(conn, sim.settings, http=session)
        meeting = client.create_meeting(body())
        assert client.get_meeting(meeting["id"])["id"] == meeting["id"]
        assert sim.recorder.token_calls() == 1
