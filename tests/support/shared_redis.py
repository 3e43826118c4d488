"""Redis for the tests that need one: skipped with a clear reason where none answers.

``TEST_REDIS_URL`` names it (default: database 1 on the local Redis). Every test keeps its
keys under its own prefix (``prefix()``), and ``delete_prefix`` removes them afterwards.
"""

import os
import uuid

import pytest
import redis

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/1"


def require_redis():
    """A client for the test Redis, or skip the test saying why."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis at {REDIS_TEST_URL} (TEST_REDIS_URL): {type(exc).__name__}")
    return client


def prefix():
    """A key prefix no other test run uses."""
    return f"vmp-test:{uuid.uuid4().hex[:12]}:"


def delete_prefix(client, key_prefix):
    for key in client.scan_iter(match=key_prefix + "*", count=500):
        client.delete(key)
