"""Helpers for the health tests: a config with the simulator and inline scans, connecting
a tutor through the simulator, reading findings, a fake clock."""

from portal import daily
from portal.health import scanner
from portal.health.demo import connect_via_simulator
from portal.models import Finding
from portal.zoom.wiring import gateway
from support.zoom import sim_state, simulator_config


def health_config(app_config, **extra):
    """A test config with the simulator mounted and scans that run inline, without pauses."""
    config = simulator_config(app_config)
    config.update(
        {
            "HEALTH_SCAN_RUNNER": "inline",
            "HEALTH_RECHECK_SECONDS": 0,
            "HEALTH_SCAN_CONCURRENCY": 4,
            "HEALTH_ZOOM_RATE": 1000,
            "HEALTH_ZOOM_BURST": 1000,
        }
    )
    config.update(extra)
    return config


def no_sleep(_seconds):
    """The Zoom client's backoff, skipped."""


def scan(app, **kwargs):
    """One scan (every tutor unless told otherwise) with the client's retries not sleeping."""
    kwargs.setdefault("sleep", no_sleep)
    return scanner.run_scan(app, **kwargs)


def connect(app, tutor, user_key, session=True):
    """Connect ``tutor`` as simulated ``user_key`` (real OAuth path); prepare today's session."""
    connection = connect_via_simulator(app, tutor, user_key)
    if session:
        daily.ensure_daily_session(tutor, gateway(app))
    return connection


def today_meeting(tutor):
    return daily.today_session(tutor).zoom_meeting_id


def opened(check=None, tutor=None):
    """Open findings (of one check / one tutor)."""
    query = Finding.open()
    if check is not None:
        query = query.where(Finding.check == check)
    if tutor is not None:
        query = query.where(Finding.tutor == tutor.id)
    return list(query.order_by(Finding.id))


def checks_open(tutor=None):
    return {f.check for f in opened(tutor=tutor)}


__all__ = [
    "checks_open",
    "connect",
    "health_config",
    "opened",
    "scan",
    "sim_state",
    "today_meeting",
]


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds
