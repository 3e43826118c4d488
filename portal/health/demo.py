"""The demo institution's broken tutors: one of each health check, for ``make run``.

Two halves, because the Zoom simulator lives in the memory of one process:

- ``add_people()`` runs in ``flask portal demo`` (when the simulator is in use): the
  broken tutors of Math Center and everything about them that is only database
  rows: Connect Links, an online appointment with nobody connected, Joins that
  went to a Connect Link, a Join from the tutor's own Start device.
- ``ensure_zoom_side(app)`` runs in the *server* process, the first time an
  administrator opens Health (debug mode with the simulator only): it connects
  those tutors to simulated Zoom users through the real OAuth client path (code,
  PKCE, token exchange, profile, ``connections.connect``), prepares today's Daily
  Sessions through the claim protocol, then breaks things the way Zoom would (a
  meeting deleted behind the portal's back, revoked tokens, a licence downgraded
  to Basic, a second tutor authorizing the same Zoom user, an authorization made
  while the app lacked the delete scope) and runs a first health
  scan. It does nothing once any of those tutors has ever had a connection, so a
  restart keeps what the newcomer fixed.

Connections made by ``flask portal demo`` itself would be useless: that process's
simulator is gone when the command ends, and the server's own simulator would
refuse the tokens.
"""

import datetime
import logging
import secrets
import threading
from urllib.parse import parse_qs, urlsplit

from .. import accounts, appointments, connections, daily
from ..models import (
    Center,
    JoinEvent,
    MeetingParticipant,
    TutorDevice,
    User,
    ZoomConnection,
    utcnow,
)
from ..zoom.client import fetch_profile
from ..zoom.oauth import finish_authorization, start_authorization
from ..zoom.simulator.tokens import GRANULAR_SCOPES
from ..zoom.wiring import gateway
from . import runs
from .checks import waiting_room_stuck

log = logging.getLogger("portal.health.demo")

CENTER = "Math Center"
PASSWORD = "demo-password-1"
# email, name, simulated Zoom user (key, email, first, last, type, login types) or None
PEOPLE = (
    ("mismatch.tutor@demo.edu", "Mina Mismatch", ("demo-mina", "mina.m@example.com", 2, [100])),
    ("shared.one@demo.edu", "Sasha Shared", ("demo-shared", "shared.zoom@example.com", 2, [100])),
    ("shared.two@demo.edu", "Sol Shared", ("demo-shared", "shared.zoom@example.com", 2, [100])),
    ("pmi.tutor@demo.edu", "Pia Personal-Room", ("demo-pia", "pia.p@example.com", 2, [100])),
    ("basic.tutor@demo.edu", "Bo Basic", ("demo-bo", "bo.b@example.com", 2, [100])),
    ("google.tutor@demo.edu", "Gus Google", ("demo-gus", "gus.g@example.com", 2, [1])),
    ("revoked.tutor@demo.edu", "Rae Revoked", ("demo-rae", "rae.r@example.com", 2, [100])),
    ("device.tutor@demo.edu", "Dev One-Device", ("demo-dev", "dev.d@example.com", 2, [100])),
    ("scopes.tutor@demo.edu", "Sid Scopes", ("demo-sid", "sid.s@example.com", 2, [100])),
    ("offline.tutor@demo.edu", "Otto Offline", None),
)
STUDENT = "student@demo.edu"
# missing_scope: Sid authorized while the app (granular scopes) lacked this one.
NO_SCOPE = ("scopes.tutor@demo.edu", "meeting:delete:meeting")
_lock = threading.Lock()


def add_people(now=None):
    """Create the broken tutors and their database-only problems; returns the tutors."""
    now = now or utcnow()
    center = accounts.center_by_name(CENTER)
    tutors = {}
    for email, name, _zoom in PEOPLE:
        tutors[email] = accounts.create_user(email, name, "tutor", PASSWORD, centers=[center])
    student = User.by_email(STUDENT)
    # not_connected: an online appointment tomorrow with a tutor who never connected Zoom.
    tomorrow = center.today(now) + datetime.timedelta(days=1)
    appointments.book(
        student, tutors["offline.tutor@demo.edu"], "online", f"{tomorrow.isoformat()}T15:00", 30
    )
    # students_misrouted: Joins for Jordan Tutor went to his old Connect Link.
    jordan = User.by_email("tutor2@demo.edu")
    for minutes in (95, 40):
        JoinEvent.create(
            student=student,
            tutor=jordan,
            center=center,
            destination="connect_link",
            reason="connect_link",
            device_id=secrets.token_urlsafe(24),
            created_at=now - datetime.timedelta(minutes=minutes),
        )
    # same_device: a student's Join from the browser Dev pressed Start on.
    device = secrets.token_urlsafe(24)
    dev = tutors["device.tutor@demo.edu"]
    TutorDevice.create(tutor=dev, device_id=device, seen_at=now - datetime.timedelta(minutes=30))
    JoinEvent.create(
        student=student,
        tutor=dev,
        center=center,
        destination="daily_session",
        reason="session_known",
        device_id=device,
        created_at=now - datetime.timedelta(minutes=20),
    )
    return list(tutors.values())


def pending():
    """True while the demo's tutors exist and none has ever had a Zoom connection."""
    tutors = User.select(User.id).where(User.email.in_([p[0] for p in PEOPLE if p[2]]))
    if not tutors.exists():
        return False
    return not ZoomConnection.select().where(ZoomConnection.tutor.in_(tutors)).exists()


def ensure_zoom_side(app):
    """Give the demo's tutors their Zoom side in this process, once; True if it was done now."""
    if app.extensions.get("health_demo_checked"):
        return False
    with _lock:
        if app.extensions.get("health_demo_checked"):
            return False
        done = False
        try:
            if app.extensions.get("zoom_sim") is not None and pending():
                setup_zoom_side(app)
                done = True
        except Exception:  # noqa: BLE001 - a demo convenience must not break the page
            log.exception("could not set up the demo's Zoom side")
        app.extensions["health_demo_checked"] = True
        return done


def connect_via_simulator(app, tutor, user_key, scopes=None):
    """Authorize ``user_key`` at the simulator for ``tutor`` through the real OAuth client.

    ``scopes`` overrides the scopes the simulated app grants (a token lacking some)."""
    state = app.extensions["zoom_sim"]
    settings, http = gateway(app).settings, gateway(app).http()
    store = {}
    query = parse_qs(urlsplit(start_authorization(store, settings)).query)
    code = state.issue_code(
        user_key,
        query["redirect_uri"][0],
        query.get("code_challenge", [None])[0],
        query.get("code_challenge_method", [None])[0],
        scopes=scopes,
    )
    token = finish_authorization({"code": code, "state": query["state"][0]}, store, settings, http)
    profile = fetch_profile(token["access_token"], settings, http)
    http.close()
    return connections.connect(tutor, profile, token, settings)


def setup_zoom_side(app, now=None):
    """Connect the demo tutors, prepare their sessions, break things, run a first scan."""
    state = app.extensions["zoom_sim"]
    lacking = tuple(s for s in GRANULAR_SCOPES if s != NO_SCOPE[1])
    center = Center.get(Center.name == CENTER)
    for email, _name, zoom in PEOPLE:
        if zoom is None:
            continue
        key, zoom_email, kind, logins = zoom
        try:
            state.user(key)
        except KeyError:
            first, last = _name.split(" ", 1)
            state.add_user(key, zoom_email, first, last, type=kind, login_types=list(logins))
        tutor = User.by_email(email)
        connect_via_simulator(app, tutor, key, lacking if email == NO_SCOPE[0] else None)
        daily.ensure_daily_session(tutor, gateway(app), center=center, now=now)
    mina = User.by_email("mismatch.tutor@demo.edu")
    state.zoom_delete_meeting(daily.today_session(mina, center).zoom_meeting_id, notify=False)
    pia = User.by_email("pmi.tutor@demo.edu")
    accounts.set_connect_link(pia, f"https://zoom.us/j/{state.user('demo-pia').pmi}")
    state.downgrade_to_basic("demo-bo")
    state.revoke_user_tokens("demo-rae", notify=False)
    _waiting_student(User.by_email("device.tutor@demo.edu"), center, now)
    try:
        runs.run_now(app, trigger="demo")
    except runs.ScanBusy:
        pass


def _waiting_student(tutor, center, now):
    """waiting_room_stuck: a student waiting 12 minutes (needs the webhook tables)."""
    if not waiting_room_stuck.available():
        return
    session = daily.today_session(tutor, center)
    if session is None:
        return
    since = (now or utcnow()) - datetime.timedelta(minutes=12)
    MeetingParticipant.create(
        session=session,
        participant_key=secrets.token_hex(8),
        name="Casey Student",
        email="student2@demo.edu",
        state=MeetingParticipant.WAITING,
        waiting_since=since,
        last_event_at=since,
    )
