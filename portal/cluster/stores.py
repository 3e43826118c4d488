"""PostgreSQL and Redis for the cluster: is it there, a database of its own, an empty Redis db."""

from urllib.parse import urlsplit, urlunsplit

import psycopg2
import redis
from psycopg2 import sql

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/"
REDIS_URL = "redis://127.0.0.1:6379/2"


def database_url(server_url, name):
    """``server_url`` (postgresql://user@host:port/) with the database ``name``."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def _admin_connection(server_url):
    conn = psycopg2.connect(database_url(server_url, "postgres"), connect_timeout=3)
    conn.autocommit = True
    return conn


def postgres_problem(server_url):
    """None when PostgreSQL answers at ``server_url``, else a sentence saying why not."""
    try:
        _admin_connection(server_url).close()
    except Exception as exc:  # noqa: BLE001 - any failure is the reason to report
        return f"PostgreSQL at {server_url} cannot be reached ({' '.join(str(exc).split())})"
    return None


def redis_problem(url):
    """None when Redis answers at ``url``, else a sentence saying why not."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure is the reason to report
        return f"Redis at {url} cannot be reached ({exc})"
    return None


def drop_database(server_url, name):
    """Drop the database ``name`` if it exists, closing its connections."""
    conn = _admin_connection(server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


def ensure_database(server_url, name, fresh=False):
    """Create the database ``name`` unless it exists (``fresh``: drop it first); its URL."""
    if fresh:
        drop_database(server_url, name)
    conn = _admin_connection(server_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return database_url(server_url, name)


def flush_redis(url):
    """Empty the Redis database of ``url`` (the cluster's own: queued jobs, rate budgets)."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
