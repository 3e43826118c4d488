"""The demo institution ships one broken tutor per health check (make run's Health page)."""

import pytest
from support.health import checks_open, health_config, opened

from portal.cli import load_demo
from portal.health import demo
from portal.health.checks import ALL, waiting_room_stuck
from portal.models import HealthScan, User


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


def test_demo_has_one_of_each_check_and_a_first_scan(app):
    with app.app_context():
        load_demo()
        assert demo.pending()
        assert demo.ensure_zoom_side(app) is True
        assert demo.ensure_zoom_side(app) is False  # once per process
    expected = {m.NAME for m in ALL} - {"could_not_check"}
    if not waiting_room_stuck.available():
        expected.discard("waiting_room_stuck")
    assert expected <= checks_open()
    assert HealthScan.get().trigger == "demo" and HealthScan.get().status == "done"
    pia = User.by_email("pmi.tutor@demo.edu")
    (stale,) = opened("stale_connect_link", pia)
    assert stale.evidence["own_pmi"] is True and "own Personal Meeting ID" in stale.detail
    assert not demo.pending()  # a restart keeps what the newcomer fixed


def test_demo_zoom_side_is_only_made_where_the_simulator_is(app):
    app.extensions.pop("zoom_sim")
    with app.app_context():
        load_demo()
        assert demo.ensure_zoom_side(app) is False
    assert demo.pending()
