"""The huey jobs run the same services as the CLI."""

import pytest
from huey import RedisHuey, SqliteHuey
from support.zoom import sim_state, simulator_config

from portal.jobs import create_huey
from portal.models import DailySession, WebSession, utcnow


@pytest.fixture
def app_config(app_config):
    config = simulator_config(app_config)
    config["HUEY_IMMEDIATE"] = True
    return config


def test_sqlite_storage_by_default_and_redis_when_configured(app):
    assert isinstance(create_huey(app), SqliteHuey)
    app.config["HUEY_REDIS_URL"] = "redis://127.0.0.1:6379/15"
    huey = create_huey(app)
    assert isinstance(huey, RedisHuey)


def test_provision_task_creates_todays_sessions(app, connected):
    huey = create_huey(app)
    # The hourly run queues its tutors in batches; immediate mode runs them right here.
    queued = huey.portal_tasks["provision_daily_sessions"].call_local()
    assert queued == {"tutors": 1, "batches": 1}
    assert DailySession.get().status == "scheduled"
    assert huey.portal_tasks["provision_daily_sessions"].call_local() == queued
    assert DailySession.select().count() == 1
    assert len(sim_state(app).meetings_of("licensed")) == 1  # the second run made none


def test_provision_batch_task_reports_its_tutors(app, connected):
    huey = create_huey(app)
    counts = huey.portal_tasks["provision_daily_batch"].call_local([connected.id])
    assert counts["created"] == 1
    assert huey.portal_tasks["provision_daily_batch"].call_local([connected.id])["existing"] == 1
    assert huey.portal_tasks["provision_daily_batch"].call_local([connected.id + 999]) == {
        "created": 0,
        "adopted": 0,
        "existing": 0,
        "busy": 0,
        "failed": 0,
    }


def test_purge_task_deletes_expired_sessions(app):
    WebSession.create(sid_hash="x" * 64, expires_at=utcnow().replace(year=2000))
    huey = create_huey(app)
    assert huey.portal_tasks["purge_sessions"].call_local() == 1
    assert WebSession.select().count() == 0


def test_job_consumer_calls_the_web_servers_simulator_over_http(app):
    from portal.zoom.transport import WSGIAdapter
    from portal.zoom.wiring import gateway

    base = app.config["ZOOM_SIM_BASE_URL"]
    assert isinstance(gateway(app).http().get_adapter(base + "/v2/users/me"), WSGIAdapter)
    app.config["ZOOM_SIM_IN_PROCESS"] = False
    assert not isinstance(gateway(app).http().get_adapter(base + "/v2/users/me"), WSGIAdapter)
