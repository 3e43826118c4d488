"""Seed data for bench/health_bench.py: a simulated Zoom world, a 100,000-tutor institution."""

import datetime
import random

from portal import daily
from portal.db import database
from portal.health import findings
from portal.models import (
    Appointment,
    Center,
    DailySession,
    Finding,
    JoinEvent,
    Membership,
    TutorDevice,
    User,
    ZoomConnection,
    utcnow,
)
from portal.zoom.tokens import store_new_connection
from portal.zoom.wiring import gateway

CHUNK = 2000


def insert(model, rows):
    """Bulk insert in chunks, one transaction each."""
    for start in range(0, len(rows), CHUNK):
        with database.atomic():
            model.insert_many(rows[start : start + CHUNK]).execute()


def seed_scan(app, tutors, accounts=None, prefix="s"):
    """``tutors`` tutors connected to simulated users (own accounts, or ``accounts`` shared)."""
    state = app.extensions["zoom_sim"]
    settings = gateway(app).settings
    center = Center.get_or_none(Center.name == "Bench") or Center.create(
        name="Bench", timezone="UTC", virtual_meetings_enabled=True
    )
    day = daily.center_today(center)
    ids = []
    for n in range(tutors):
        key = f"{prefix}{n}"
        fields = {"account_id": f"{prefix}-account-{n % accounts}"} if accounts else {}
        sim_user = state.add_user(key, f"{key}@zoom.bench", "Bench", key, **fields)
        tutor = User.create(
            email=f"{key}@bench.edu", name=f"Bench {key}", role="tutor", password_hash="x"
        )
        Membership.create(user=tutor, center=center)
        with state.lock:
            grant = state._new_grant(sim_user.id, state.config.granted_scopes())
        profile = sim_user.to_json(state.now(), state.config.meeting_url_base)
        store_new_connection(tutor, profile, state.token_response(grant), settings)
        meeting = state.create_meeting(
            sim_user, daily.meeting_body(tutor, center, day), origin="zoom"
        )
        DailySession.create(
            tutor=tutor,
            center=center,
            date=day,
            status="scheduled",
            zoom_meeting_id=meeting.id,
            uuid=meeting.uuid,
            host_id=sim_user.id,
            join_url="https://zoom.us/j/1",
        )
        ids.append(tutor.id)
    return ids


def seed_database(count, centers=50, students=1000, seed=7):
    """A large institution with a realistic share of every problem."""
    rng = random.Random(seed)
    now = utcnow()
    center_ids = [
        Center.create(
            name=f"Center {c:02d}", timezone="America/New_York", virtual_meetings_enabled=True
        ).id
        for c in range(centers)
    ]
    first_user = (User.select(User.id).order_by(User.id.desc()).scalar() or 0) + 1
    insert(
        User,
        [
            {
                "email": f"s{n}@big.edu",
                "name": f"Student {n}",
                "role": "student",
                "password_hash": "x",
                "created_at": now,
            }
            for n in range(students)
        ],
    )
    student_ids = list(range(first_user, first_user + students))
    first_tutor = first_user + students
    insert(
        User,
        [
            {
                "email": f"t{n}@big.edu",
                "name": f"Tutor {n}",
                "role": "tutor",
                "password_hash": "x",
                "created_at": now,
            }
            for n in range(count)
        ],
    )
    tutor_ids = list(range(first_tutor, first_tutor + count))
    home = {t: center_ids[i % centers] for i, t in enumerate(tutor_ids)}
    insert(Membership, [{"user": t, "center": home[t]} for t in tutor_ids])
    insert(
        Membership,
        [{"user": s, "center": center_ids[i % centers]} for i, s in enumerate(student_ids)],
    )
    connected = [t for t in tutor_ids if rng.random() < 0.8]
    offline = sorted(set(tutor_ids) - set(connected))
    connections, links = [], {}
    for i, t in enumerate(connected):
        zoom_id = f"z{t}"
        roll = rng.random()
        status = "needs_reauth" if roll < 0.01 else "active"
        user_type = 1 if 0.01 <= roll < 0.015 else 2
        logins = [1] if 0.015 <= roll < 0.035 else [100]
        if i % 300 == 1:
            zoom_id = f"z{connected[i - 1]}"  # a duplicate authorization
        pmi = 5_000_000_000 + t
        if 0.035 <= roll < 0.065:
            links[t] = f"https://zoom.us/j/{pmi}"
        connections.append(
            {
                "tutor": t,
                "zoom_user_id": zoom_id,
                "account_id": f"acct{t}",
                "email": f"{zoom_id}@zoom.big",
                "user_type": user_type,
                "login_types": logins,
                "pmi": pmi,
                "personal_meeting_url": f"https://zoom.us/j/{pmi}",
                "status": status,
                "connected_at": now,
                "updated_at": now,
                "expires_at": now,
            }
        )
    insert(ZoomConnection, connections)
    for t, link in links.items():
        User.update(connect_link=link).where(User.id == t).execute()
    today = datetime.date.today()
    insert(
        DailySession,
        [
            {
                "tutor": t,
                "center": home[t],
                "date": today,
                "status": "scheduled",
                "zoom_meeting_id": 80_000_000_000 + t,
                "created_at": now,
            }
            for t in connected
        ],
    )
    appointments = []
    for i, t in enumerate(offline[: len(offline) // 10] + connected[:20000]):
        start = now + datetime.timedelta(days=1 + i % 5, minutes=30 * (i % 16))
        appointments.append(
            {
                "student": student_ids[i % students],
                "tutor": t,
                "center": home[t],
                "kind": "online",
                "start_at": start,
                "end_at": start + datetime.timedelta(minutes=30),
                "status": "booked",
                "created_at": now,
                "updated_at": now,
            }
        )
    insert(Appointment, appointments)
    events, devices = [], []
    for i in range(100_000):
        t = tutor_ids[rng.randrange(count)]
        destination = (
            "daily_session" if rng.random() < 0.97 else rng.choice(("nowhere", "connect_link"))
        )
        events.append(
            {
                "student": student_ids[i % students],
                "tutor": t,
                "center": home[t],
                "destination": destination,
                "reason": "session_known" if destination == "daily_session" else "not_connected",
                "device_id": f"dev{i}",
                "created_at": now - datetime.timedelta(minutes=rng.randrange(60 * 48)),
            }
        )
        if i % 200 == 0:
            devices.append({"tutor": t, "device_id": f"dev{i}", "seen_at": now})
    insert(JoinEvent, events)
    insert(TutorDevice, devices)
    _waiting(rng, now, today, connected)
    return tutor_ids, center_ids


def _waiting(rng, now, today, connected, sessions=300):
    """Students in waiting rooms (the webhook tables of migration 0003, when present)."""
    from portal.health.checks import waiting_room_stuck

    if not waiting_room_stuck.available():
        return
    from portal.models import MeetingParticipant

    chosen = rng.sample(connected, sessions)
    ids = dict(
        DailySession.select(DailySession.tutor, DailySession.id)
        .where(DailySession.tutor.in_(chosen), DailySession.date == today)
        .tuples()
    )
    rows = []
    for n, tutor in enumerate(chosen):
        since = now - datetime.timedelta(minutes=rng.randrange(1, 30))
        rows.append(
            {
                "session": ids[tutor],
                "participant_key": f"p{n}",
                "name": f"Student {n}",
                "state": "waiting",
                "waiting_since": since,
                "last_event_at": since,
                "updated_at": now,
            }
        )
    insert(MeetingParticipant, rows)


def pad_findings(target, tutor_ids, center_of, resolved=10_000, seed=11):
    """Exactly ``target`` open findings (adding info ones), plus resolved history for the trend."""
    rng = random.Random(seed)
    now = utcnow()
    missing = target - Finding.open().count()
    taken = {
        t
        for (t,) in Finding.select(Finding.tutor).where(Finding.check == "could_not_check").tuples()
    }
    rows = []
    for t in tutor_ids:
        if len(rows) >= missing:
            break
        if t in taken:
            continue
        rows.append(
            {
                "check": "could_not_check",
                "key": findings.tutor_key("could_not_check", t),
                "severity": "info",
                "center": center_of(t),
                "tutor": t,
                "subject_type": "tutor",
                "subject_id": t,
                "detail": f"Could not check Tutor {t}'s Zoom account: HTTP 503.",
                "evidence": '{"reason": "HTTP 503"}',
                "first_seen": now - datetime.timedelta(hours=rng.randrange(24 * 14)),
                "last_seen": now,
                "last_checked": now,
            }
        )
    insert(Finding, rows)
    history = []
    for _n in range(resolved):
        t = tutor_ids[rng.randrange(len(tutor_ids))]
        seen = now - datetime.timedelta(hours=rng.randrange(24 * 14))
        history.append(
            {
                "check": "session_mismatch",
                "key": f"session_mismatch:tutor:{t}",
                "severity": "critical",
                "center": center_of(t),
                "tutor": t,
                "detail": "An old mismatch.",
                "first_seen": seen,
                "last_seen": seen,
                "last_checked": seen,
                "resolved_at": seen + datetime.timedelta(hours=rng.randrange(1, 48)),
                "resolution": "bench history",
            }
        )
    insert(Finding, history)
    return Finding.open().count()
