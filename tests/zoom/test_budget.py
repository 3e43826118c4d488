"""A web request's Zoom time budget and the circuit breaker per Zoom host."""

import pytest

from portal.zoom import ZoomClient
from portal.zoom.breaker import Breaker
from portal.zoom.errors import ZoomUnavailable

from .helpers import connect, make_tutor


@pytest.fixture
def linked(zoom, http):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, make_tutor(), user)
    zoom.recorder.clear()
    return conn


def test_an_exhausted_budget_stops_before_sending(linked, zoom, http):
    client = ZoomClient(linked, zoom.settings, http=http, budget=0.0)
    with pytest.raises(ZoomUnavailable) as info:
        client.me()
    assert info.value.sent is False and "longer than this request may wait" in str(info.value)
    assert zoom.recorder.api_calls() == 0


def test_a_slow_answer_is_cut_at_the_budget_and_not_retried_past_it(linked, zoom, http):
    zoom.recorder.add("GET", "/v2/users/me", delay=3.0)
    client = ZoomClient(linked, zoom.settings, http=http, budget=1.0)
    with pytest.raises(ZoomUnavailable):
        client.me()
    assert zoom.recorder.api_calls() == 1  # GETs are retried, but not past the budget


def test_breaker_opens_after_repeated_failures_and_closes_on_an_answer(linked, zoom, http):
    clock = [100.0]
    breaker = Breaker(threshold=3, cool_down=30, clock=lambda: clock[0])
    client = ZoomClient(linked, zoom.settings, http=http, breaker=breaker, sleep=lambda s: None)
    zoom.recorder.add("GET", "/v2/users/me", status=503, body={"code": 503}, times=3)
    with pytest.raises(ZoomUnavailable):
        client.me()  # three attempts, three failures: open
    assert zoom.recorder.api_calls() == 3 and breaker.is_open(zoom.settings.api_base_url)
    with pytest.raises(ZoomUnavailable) as info:
        client.me()
    assert info.value.sent is False and "pauses calls" in str(info.value)
    assert zoom.recorder.api_calls() == 3  # skipped: nothing sent
    clock[0] += 31  # cooled down: one call goes through, and its answer closes it
    assert client.me()["email"]
    assert not breaker.is_open(zoom.settings.api_base_url)
