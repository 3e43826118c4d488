"""The lockout probe of issue 15, item 1: can one address lock other users out of login?

Runs the portal in production settings (argon2 at its real cost, TRUSTED_PROXIES=1,
so the client's address comes from X-Forwarded-For as behind a proxy) on a temporary
SQLite database with ``--users`` users. From one attacker address it then sends the
issue's repro, ``--random`` (61) failed logins with random e-mails, and then wrong
passwords for every real account until each is refused. Afterwards every user logs
in with the right password from their own address, the first user also from the
attacker's address with the browser that logged in before (its device cookie), and
one user without a cookie from the attacker's address. Prints what each got, and
the attacker's slowdown.

    .venv/bin/python bench/lockout_probe.py [--users 20] [--random 61]
"""

import argparse
import logging
import os
import re
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cryptography.fernet import Fernet  # noqa: E402

from portal import create_app  # noqa: E402
from portal.auth import throttle  # noqa: E402
from portal.auth.passwords import hash_password  # noqa: E402
from portal.db import database  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import LoginAttempt, User  # noqa: E402

ATTACKER = "203.0.113.66"
PASSWORD = "probe-password-123"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def attempt(app, client, address, email, password):
    base = "https://portal.example.edu"
    headers = {"X-Forwarded-For": address, "Referer": base + "/login"}  # CSRF's HTTPS check
    page = client.get("/login", headers=headers, base_url=base).get_data(as_text=True)
    match = TOKEN.search(page)
    if match is None:  # still logged in from an earlier success
        return 303
    data = {"email": email, "password": password, "csrf_token": match.group(1)}
    return client.post("/login", data=data, headers=headers, base_url=base).status_code


def main():
    logging.getLogger("portal").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--random", type=int, default=61)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmp-lockout-") as tmp:
        app = create_app(
            {
                "SECRET_KEY": "lockout-probe-secret-key-0123456789abcdef",
                "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "DATABASE_URL": f"sqlite:///{tmp}/probe.db",
                "ZOOM_SIMULATOR": True,
                "TRUSTED_PROXIES": 1,
                "INSTANCE_PATH": tmp,
            }
        )
        with app.app_context(), database.connection_context():
            upgrade()
            digest = hash_password(PASSWORD)
            emails = [f"user{n}@probe.edu" for n in range(args.users)]
            for email in emails:
                User.create(email=email, name=email, role="student", password_hash=digest)

        # user 0 logged in from home before the attack: that browser has a device cookie
        cookie_name = app.config["LOGIN_DEVICE_COOKIE_NAME"]
        home = app.test_client()
        first = attempt(app, home, "198.51.100.1", emails[0], PASSWORD)
        device = home.get_cookie(cookie_name, domain="portal.example.edu")

        attacker = app.test_client()
        started = time.perf_counter()
        randoms = [
            attempt(app, attacker, ATTACKER, f"r{uuid.uuid4().hex[:8]}@x.edu", "guess")
            for _ in range(args.random)
        ]
        targeted = {}
        for email in emails:
            answers = [attempt(app, attacker, ATTACKER, email, "guess") for _ in range(8)]
            targeted[email] = answers
        attack_seconds = time.perf_counter() - started
        with app.app_context(), database.connection_context():
            delay = throttle.address_delay(ATTACKER, app.config)
            rows = LoginAttempt.select().count()

        owners = [
            attempt(app, app.test_client(), f"198.51.100.{n + 10}", email, PASSWORD)
            for n, email in enumerate(emails)
        ]
        # user 0 again, from the attacker's (shared) address, in a browser that carries
        # only the device cookie of that first login
        browser = app.test_client()
        if device is not None:
            browser.set_cookie(cookie_name, device.value, domain="portal.example.edu")
        shared_with_cookie = attempt(app, browser, ATTACKER, emails[0], PASSWORD)
        with app.app_context(), database.connection_context():
            User.create(email="newcomer@probe.edu", name="N", role="student", password_hash=digest)
        t0 = time.perf_counter()
        newcomer = attempt(app, app.test_client(), ATTACKER, "newcomer@probe.edu", PASSWORD)
        newcomer_seconds = time.perf_counter() - t0

    counts = {s: randoms.count(s) for s in sorted(set(randoms))}
    refused = sum(1 for a in targeted.values() if 429 in a)
    print(f"before: user 0 logged in from home: {first}")
    print(f"attack from {ATTACKER}: {args.random} random e-mails -> {counts}; 8 wrong passwords")
    print(f"  for each of {args.users} accounts: {refused} accounts refused the attacker (429)")
    print(f"  attack took {attack_seconds:.1f} s; the address's delay is now {delay:.1f} s")
    print(f"  failed-login rows recorded: {rows}")
    ok = owners.count(303)
    print(f"after: {ok} of {len(owners)} users logged in from their own address: {set(owners)}")
    print(f"  user 0 from the attacker's address with its device cookie: {shared_with_cookie}")
    print(
        f"  a user without a cookie at the attacker's address: {newcomer} "
        f"(after {newcomer_seconds:.1f} s: slowed down, not refused)"
    )


if __name__ == "__main__":
    main()
