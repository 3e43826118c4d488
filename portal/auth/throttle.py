"""Login throttling that an attacker cannot turn against other users (RELIABILITY §3.2).

Failures count per account *and client*: the client is the browser's device cookie
when it logged in to that account before, otherwise the client's address (the real
one, through ProxyFix when TRUSTED_PROXIES is set). So the limits are:

- per account and client: LOGIN_ATTEMPTS_PER_MINUTE / _PER_HOUR, then 429 for that
  client only. An attacker's failures never count against the owner's own browser
  or address, and the owner's success does not reset the attacker's count.
- per account over all addresses (distributed guessing): LOGIN_ATTEMPTS_PER_ACCOUNT_HOUR
  failures from clients without the device cookie, then 429 for those clients only;
  the owner's known browser still gets in.
- per address: past LOGIN_ADDRESS_FAILURES_PER_HOUR failures (any account), the
  address is slowed down (a delay before the password check, at most
  LOGIN_ADDRESS_MAX_DELAY seconds), never refused: behind a shared address, users
  who are not attacking still get in.

Check, verification and record are one step: an attempt is recorded *before* the
password is checked, in a transaction that first locks the account's counter (BEGIN
IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so N parallel guesses get at
most the limit of password checks. A success deletes that client's rows.
"""

import datetime
import hashlib
import hmac
import ipaddress
import secrets
import time

from itsdangerous import BadSignature, URLSafeSerializer

from ..db import database, is_sqlite, write_tx
from ..models import LoginAttempt, utcnow

DEVICE_PREFIX = "device:"
KEEP_ATTEMPTS = datetime.timedelta(days=1)  # longer than the longest window (1 h)


class LoginThrottled(Exception):
    """Too many failed attempts from this client for this account."""


def _email_key(config, email):
    # keyed, so the readable cookie does not reveal the e-mail to a dictionary guess
    key = str(config["SECRET_KEY"]).encode()
    return hmac.new(key, email.encode(), hashlib.sha256).hexdigest()[:32]


def _serializer(config):
    return URLSafeSerializer(config["SECRET_KEY"], salt="login-device")


def device_cookie_value(config, email):
    """A signed value naming a new device, bound to this account."""
    return _serializer(config).dumps(
        {"e": _email_key(config, email), "d": secrets.token_urlsafe(12)}
    )


def client_key(config, email, address, cookie):
    """`device:<id>` when cookie is a valid device cookie for this account, else the address."""
    if cookie and len(cookie) < 200:
        try:
            data = _serializer(config).loads(cookie)
        except BadSignature:
            data = None
        if isinstance(data, dict) and data.get("e") == _email_key(config, email) and data.get("d"):
            return DEVICE_PREFIX + str(data["d"])[:40]
    return clean_address(address)


def clean_address(address):
    """The client's address as text, or "?" when it is not an IP address."""
    try:
        return str(ipaddress.ip_address((address or "").strip()))
    except ValueError:
        return "?"


def _lock_account(email):
    """Serialize the count-and-record step for one account (SQLite: BEGIN IMMEDIATE did)."""
    if not is_sqlite():
        digest = hashlib.sha256(email.encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def reserve_attempt(config, email, client):
    """Record an attempt unless this client is over its limits; returns the row id.

    Raises LoginThrottled (nothing recorded) when the client may not try now.
    """
    now = utcnow()
    minute = now - datetime.timedelta(minutes=1)
    hour = now - datetime.timedelta(hours=1)
    with write_tx():
        _lock_account(email)
        mine = LoginAttempt.select().where(LoginAttempt.email == email, LoginAttempt.ip == client)
        if mine.where(LoginAttempt.created_at > minute).count() >= int(
            config["LOGIN_ATTEMPTS_PER_MINUTE"]
        ):
            raise LoginThrottled()
        if mine.where(LoginAttempt.created_at > hour).count() >= int(
            config["LOGIN_ATTEMPTS_PER_HOUR"]
        ):
            raise LoginThrottled()
        if not client.startswith(DEVICE_PREFIX):
            untrusted = LoginAttempt.select().where(
                LoginAttempt.email == email,
                LoginAttempt.created_at > hour,
                ~LoginAttempt.ip.startswith(DEVICE_PREFIX),
            )
            if untrusted.count() >= int(config["LOGIN_ATTEMPTS_PER_ACCOUNT_HOUR"]):
                raise LoginThrottled()
        return LoginAttempt.insert(email=email, ip=client, created_at=now).execute()


def forget_attempts(email, client):
    """After a success: this client's failures for the account are forgiven."""
    LoginAttempt.delete().where(LoginAttempt.email == email, LoginAttempt.ip == client).execute()


def address_delay(address, config):
    """Seconds to wait before checking a password from this address (0 when it behaves)."""
    hour = utcnow() - datetime.timedelta(hours=1)
    failures = (
        LoginAttempt.select()
        .where(LoginAttempt.ip == clean_address(address), LoginAttempt.created_at > hour)
        .count()
    )
    excess = failures - int(config["LOGIN_ADDRESS_FAILURES_PER_HOUR"])
    if excess < 0:
        return 0.0
    return min(float(config["LOGIN_ADDRESS_MAX_DELAY"]), 0.1 * (excess + 1))


def slow_down(address, config):
    """Sleep the address's delay (a slowdown, never a refusal)."""
    delay = address_delay(address, config)
    if delay:
        time.sleep(delay)
    return delay


def purge_old_attempts(keep=KEEP_ATTEMPTS):
    """Delete attempts older than every window; returns how many."""
    return LoginAttempt.delete().where(LoginAttempt.created_at < utcnow() - keep).execute()
