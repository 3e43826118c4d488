"""Helpers shared by the Zoom client tests (and importable by spawned worker processes)."""

import datetime
import io
import itertools
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.fernet import Fernet

from portal.models import User, ZoomConnection, utcnow
from portal.zoom import ZoomSettings
from portal.zoom.tokens import unseal

PG_URL = os.environ.get("DATABASE_URL", "")
USE_PG = PG_URL.startswith(("postgres://", "postgresql://"))
KEYS = [Fernet.generate_key().decode() for _ in range(2)]
CLIENT_ID = "sim-client-id"
CLIENT_SECRET = "sim-client-secret"
REDIRECT_URI = "http://127.0.0.1:5000/zoom/callback"
_seq = itertools.count(1)


def make_tutor(name="Tutor"):
    """Create a tutor with a unique e-mail."""
    n = next(_seq)
    return User.create(
        email=f"tutor{n}-{uuid.uuid4().hex[:8]}@example.edu",
        name=f"{name} {n}",
        role="tutor",
        password_hash="x",
    )


def make_settings(base_url="http://127.0.0.1:9", keys=None, **overrides):
    """ZoomSettings pointing both OAuth and API at base_url (the simulator)."""
    values = dict(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        oauth_base_url=base_url,
        api_base_url=base_url + "/v2",
        encryption_keys=",".join(keys or KEYS),
        timeout=(3.05, 10),
    )
    values.update(overrides)
    return ZoomSettings(**values)


class RecordingAdapter(requests.adapters.BaseAdapter):
    """A transport that records every request and refuses to send it."""

    def __init__(self):
        super().__init__()
        self.requests = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        raise AssertionError(f"unexpected HTTP call: {request.method} {request.path_url}")

    def close(self):
        pass


def fake_token(n=1, expires_in=3599):
    """A token dict shaped like Zoom's answer, with unique secret-looking values."""
    return {
        "access_token": f"at-secret-{n}-{os.urandom(6).hex()}",
        "refresh_token": f"rt-secret-{n}-{os.urandom(6).hex()}",
        "token_type": "bearer",
        "expires_in": expires_in,
        "scope": "meeting:read meeting:write user:read",
    }


PROFILE = {
    "id": "zoomuser-1",
    "account_id": "acct-1",
    "email": "host@example.edu",
    "type": 2,
    "login_types": [100],
    "pmi": 3542471135,
    "personal_meeting_url": "https://us05web.zoom.us/j/3542471135?pwd=abc",
}


def reload(conn):
    """Fresh copy of a ZoomConnection row."""
    return ZoomConnection.get_by_id(conn.id)


# --- the simulator over real HTTP ------------------------------------------------------------


def query_of(url):
    """The query string of a URL as a flat dict."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class Call:
    method: str
    path: str
    query: dict
    authorization: str
    form: dict = field(default_factory=dict)
    json: object = None


@dataclass
class Scripted:
    method: str
    path: str
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    drop: bool = False  # close the connection without an answer
    delay: float = 0.0  # then pass the request on to the simulator
    done: threading.Event = field(default_factory=threading.Event)


class Recorder:
    """WSGI middleware in front of the simulator: records every call, plays scripted answers."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.calls = []
        self.script = []

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        call = Call(
            method,
            path,
            {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()},
            environ.get("HTTP_AUTHORIZATION", ""),
        )
        ctype = environ.get("CONTENT_TYPE", "")
        if "form-urlencoded" in ctype:
            call.form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        elif "json" in ctype and raw:
            call.json = json.loads(raw)
        with self.lock:
            self.calls.append(call)
            step = next(
                (s for s in self.script if s.method == method and path.startswith(s.path)), None
            )
            if step is not None:
                self.script.remove(step)
        if step is None:
            return self.app(environ, start_response)
        if step.delay:
            time.sleep(step.delay)
            try:
                return list(self.app(environ, start_response))
            finally:
                step.done.set()
        if step.drop:
            step.done.set()
            raise ConnectionAbortedError("scripted drop")
        data = step.body
        if isinstance(data, dict | list):
            payload, ctype = json.dumps(data).encode(), "application/json"
        else:
            payload, ctype = (data or "").encode(), step.headers.get("Content-Type", "text/plain")
        headers = {"Content-Type": ctype, **step.headers}
        start_response(f"{step.status} X", list(headers.items()))
        step.done.set()
        return [payload]

    def add(
        self, method, path, status=200, body=None, headers=None, *, drop=False, delay=0.0, times=1
    ):
        steps = [
            Scripted(method, path, status, body, dict(headers or {}), drop, delay)
            for _ in range(times)
        ]
        with self.lock:
            self.script.extend(steps)
        return steps[-1]

    def clear(self):
        with self.lock:
            self.calls.clear()
            self.script.clear()

    def count(self, method=None, prefix=""):
        with self.lock:
            return sum(
                1
                for c in self.calls
                if (method is None or c.method == method) and c.path.startswith(prefix)
            )

    def token_calls(self):
        return self.count("POST", "/oauth/token")

    def api_calls(self):
        return self.count(None, "/v2/")

    def last(self, method, prefix):
        with self.lock:
            found = [c for c in self.calls if c.method == method and c.path.startswith(prefix)]
        return found[-1] if found else None


def simulator_api():
    """create_sim_app / run_live from the simulator package."""
    try:
        from portal.zoom.simulator import create_sim_app, run_live
    except ImportError:  # the package's __init__ may not export them yet
        from portal.zoom.simulator.live import create_sim_app, run_live
    return create_sim_app, run_live


class Sim:
    """A live simulator on 127.0.0.1, its state, a call recorder and matching settings."""

    def __init__(self, **options):
        create_sim_app, run_live = simulator_api()
        options.setdefault("redirect_uris", [REDIRECT_URI])
        self.app = create_sim_app(**options)
        self.state = self.app.extensions["zoom_sim"]
        self.recorder = Recorder(self.app.wsgi_app)
        self.app.wsgi_app = self.recorder
        self._live = run_live(self.app)
        self._users = itertools.count(1)

    def __enter__(self):
        self.url = self._live.__enter__()
        self.settings = make_settings(self.url)
        return self

    def __exit__(self, *exc):
        self._live.__exit__(*exc)
        close = getattr(self.state, "close", None)
        if close:
            close()

    def new_user(self, user_type=2, login_types=(100,)):
        """A fresh simulated Zoom user (re-authorizing one user revokes its older grants)."""
        n = next(self._users)
        key = f"u{n}-{uuid.uuid4().hex[:6]}"
        self.state.add_user(
            key,
            f"{key}@example.com",
            "Test",
            f"User{n}",
            type=user_type,
            login_types=list(login_types),
        )
        return key

    def latest_grant(self, user_key):
        return self.state.grants_of(user_key)[0]


def approve(sim, http, authorize_url, user_key, action="authorize"):
    """Play the browser on Zoom's authorize page: pick the user, return the callback's args."""
    params = query_of(authorize_url)
    page = http.get(authorize_url, allow_redirects=False, timeout=5)
    assert page.status_code == 200, page.text
    page.close()
    answer = http.post(
        sim.url + "/oauth/authorize",
        data={**params, "user_id": user_key, "action": action},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    answer.close()
    assert location.startswith(REDIRECT_URI)
    return query_of(location)


def connect(sim, http, tutor, user_key=None):
    """Run the whole connect flow for tutor; returns (connection, token, callback args, store)."""
    from portal.zoom import (
        fetch_profile,
        finish_authorization,
        start_authorization,
        store_new_connection,
    )

    user_key = user_key or sim.new_user()
    store = {}
    url = start_authorization(store, sim.settings)
    pending = dict(store["zoom_oauth_pending"])
    args = approve(sim, http, url, user_key)
    token = finish_authorization(args, store, sim.settings, http=http)
    profile = fetch_profile(token["access_token"], sim.settings, http)
    conn = store_new_connection(tutor, profile, token, sim.settings)
    return conn, token, args, pending


def expire(conn, seconds_ago=10):
    """Make the stored access token look expired to the client (Zoom still accepts it)."""
    ZoomConnection.update(expires_at=utcnow() - datetime.timedelta(seconds=seconds_ago)).where(
        ZoomConnection.id == conn.id
    ).execute()


def stored_tokens(conn, settings):
    """(access, refresh) as stored for conn, decrypted."""
    row = reload(conn)
    return tuple(
        unseal(
            getattr(row, f), tutor_id=row.tutor_id, zoom_user_id=row.zoom_user_id, settings=settings
        )
        for f in ("access_token_enc", "refresh_token_enc")
    )
