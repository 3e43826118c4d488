"""Fixtures for the Zoom client tests: a real database, settings, and HTTP guards.

The database is a temporary SQLite file per test module, or PostgreSQL when
``DATABASE_URL`` names one (schema ``public`` is dropped, recreated and
migrated, and dropped again at the end). Tests create their own tutors, so they
never depend on each other's rows.
"""

import pytest
import requests

from portal import db as dbmod
from portal import migrate

from .helpers import PG_URL, USE_PG, RecordingAdapter, make_settings, make_tutor


def reset_postgres(database):
    database.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
    database.execute_sql("CREATE SCHEMA public")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    if USE_PG:
        return PG_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("zoomdb") / "portal.db")


@pytest.fixture(scope="module")
def module_db(database_url):
    database = dbmod.make_database(database_url)
    dbmod.database.initialize(database)
    if USE_PG:
        reset_postgres(database)
    migrate.upgrade()
    yield database
    dbmod.database.initialize(database)
    if USE_PG:
        # Leave an empty, migrated schema behind: the state the rest of the suite expects.
        reset_postgres(database)
        migrate.upgrade()
    if not database.is_closed():
        database.close()


@pytest.fixture(autouse=True)
def db(module_db):
    """Point the portal's database proxy at this module's database for every test."""
    dbmod.database.initialize(module_db)
    yield module_db
    if not module_db.is_closed():
        module_db.close()


@pytest.fixture
def tutor():
    return make_tutor()


@pytest.fixture
def settings():
    return make_settings()


@pytest.fixture
def no_network():
    """A requests.Session whose every request is recorded and fails the test."""
    adapter = RecordingAdapter()
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.recorder = adapter
    yield session
    session.close()


@pytest.fixture(scope="module")
def sim():
    """A live simulator for the module (rate limits off unless a module asks otherwise)."""
    from .helpers import Sim

    with Sim(rate_limits=False) as live:
        yield live


@pytest.fixture
def zoom(sim):
    """The module's simulator with faults, scripts and recorded calls reset for this test."""
    sim.recorder.clear()
    sim.state.reset_faults()
    yield sim
    sim.recorder.clear()
    sim.state.reset_faults()


@pytest.fixture
def http():
    session = requests.Session()
    yield session
    session.close()
