"""The cluster of ``make cluster`` (portal.cluster), for the tests that need two of everything.

Two portal servers (gunicorn, 2 workers each, production mode), two huey consumers on Redis
and the Zoom simulator at its own origin, on a PostgreSQL database these tests create for
themselves and drop afterwards (never DATABASE_URL's, so they run the same in the SQLite and
the PostgreSQL pass of CI). Redis is ``CLUSTER_TEST_REDIS_URL`` (default db 3 of the local
server), emptied at start. Without PostgreSQL or Redis the tests are skipped, saying which.

The simulator serves from a thread of the test process, so a test can look at and change
Zoom's side (``cluster.zoom``); the in-test app reads and seeds the cluster's database.
Every test ends by checking that no server or consumer logged a traceback.
"""

import os
import shutil
import tempfile

import pytest
from e2e.browser import free_port
from e2e.deployed.conftest import deployed_app_config

from portal.cluster import (
    POSTGRES_URL,
    Cluster,
    drop_database,
    ensure_database,
    flush_redis,
    postgres_problem,
    redis_problem,
)

SERVER = os.environ.get("CLUSTER_POSTGRES_URL", POSTGRES_URL)
REDIS = os.environ.get("CLUSTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
# Each Zoom account's budget in the cluster: well under Zoom Pro's own per-second limits
# (ZOOM_API §5), so the simulator's 429s stay at 0 while the portal keeps to it.
RATE, BURST = 8, 2
# Small batches, so a handful of tutors already makes work for both consumers.
PROVISION_BATCH, SCAN_BATCH = 2, 4


def _ports(count):
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="package")
def cluster_world():
    problem = postgres_problem(SERVER) or redis_problem(REDIS)
    if problem:
        pytest.skip(f"the cluster tests need PostgreSQL and Redis: {problem}")
    name = f"vmp_cluster_test_{os.getpid()}"
    url = ensure_database(SERVER, name, fresh=True)
    flush_redis(REDIS)
    folder = tempfile.mkdtemp(prefix="vmp-cluster-")
    settings = {
        "HEALTH_ZOOM_RATE": RATE,
        "HEALTH_ZOOM_BURST": BURST,
        "PROVISION_BATCH_SIZE": PROVISION_BATCH,
        "HEALTH_SCAN_BATCH_SIZE": SCAN_BATCH,
    }
    world = Cluster(folder, url, REDIS, ports=_ports(3), extra_env=settings)
    try:
        world.prepare()
        world.start()
        yield world
    finally:
        world.stop()
        drop_database(SERVER, name)
        flush_redis(REDIS)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def app_config(app_config, cluster_world):
    """The in-test app uses the cluster's database, queue and Zoom settings."""
    config = deployed_app_config(app_config, cluster_world)
    config["DATABASE_URL"] = cluster_world.env["DATABASE_URL"]
    config["HUEY_REDIS_URL"] = cluster_world.redis_url
    return config


@pytest.fixture
def cluster(cluster_world, app):
    """The cluster with a fresh Zoom and empty tables; fails on any logged traceback."""
    cluster_world.simulator.renew()
    names = [n for n, _ in cluster_world.processes.processes]
    offsets = {n: len(cluster_world.log_text(n)) for n in names}
    yield cluster_world
    for name, offset in offsets.items():
        fresh = cluster_world.log_text(name)[offset:]
        at = fresh.find("Traceback")
        assert at < 0, f"{name} logged an error:\n{fresh[max(at - 300, 0) : at + 4000]}"
