"""Two portal servers and two job consumers on one PostgreSQL and one Redis (issue 16).

What a center that outgrew one machine must be able to count on: a tutor connected on one
server is the same tutor on the other, work queued anywhere is done once, Zoom sees one
meeting per tutor-day and one token call per expiry. Nothing here asserts a time; where a
consumer or a background writer finishes later, the test waits for the rows, then counts.
"""

import ast
import datetime
import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

from e2e.deployed.test_connect import book_now
from support import make_user
from support.visitor import Visitor
from support.webhooks import HOST_ID, MEETING_ID, compact, participant, signed_headers

from portal import daily
from portal import db as dbmod
from portal.daily import format_meeting_number
from portal.enqueue import huey_for
from portal.models import (
    DailySession,
    HealthScan,
    JoinEvent,
    MeetingParticipant,
    PresenceEvent,
    WebhookDelivery,
    ZoomConnection,
    utcnow,
)
from portal.zoom.tokens import store_new_connection
from portal.zoom.wiring import gateway

from .conftest import BURST, PROVISION_BATCH, RATE, SCAN_BATCH

WAIT = 90  # seconds a consumer or background writer may take before the test gives up


def executed(cluster, offsets, task):
    """How many runs of ``task`` each consumer finished since ``offsets``: the task ids in
    huey's "<task>: <id> executed in …" lines (the consumer may log a line twice)."""
    pattern = re.compile(rf"\b{task}: ([0-9a-f-]{{36}}) executed in ")
    return {
        name: len(set(pattern.findall(cluster.log_text(name)[offset:])))
        for name, offset in offsets.items()
    }


def log_offsets(cluster):
    return {name: len(cluster.log_text(name)) for name in cluster.consumer_names()}


def eventually(read, done, what):
    """Read until done(value) holds; fail naming what did not happen."""
    deadline = time.monotonic() + WAIT
    while True:
        with dbmod.database.connection_context():
            value = read()
        if done(value) or time.monotonic() > deadline:
            assert done(value), f"{what}: still {value!r}"
            return value
        time.sleep(0.2)


def connect_through(cluster, visitor, base, user_key):
    """Authorize on ``base``, sign in at the simulator as ``user_key``, and let the panel
    prepare today's Daily Session as its htmx form does on load; the panel's HTML."""
    answer = visitor.post_form(base, "/zoom/connect", token_path="/tutor/preferences")
    assert answer.status == 303, answer.text[:500]
    authorize = answer.location
    assert authorize.startswith(f"{cluster.zoom_url}/oauth/authorize?")
    assert visitor.get(authorize).status == 200  # Zoom's sign-in page
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    params.update(user_id=cluster.zoom.user(user_key).id, action="approve")
    back = visitor.post(f"{cluster.zoom_url}/oauth/authorize", params, same_origin=False)
    assert back.status == 302 and back.location.startswith(f"{base}/zoom/callback?")
    done = visitor.get(back.location)
    assert done.status == 303 and done.location.endswith("/tutor/preferences"), done.text[:500]
    page = visitor.get(f"{base}/tutor/preferences")
    assert page.status == 200 and 'hx-post="/tutor/daily-session"' in page.text
    panel = visitor.post_form(
        base, "/tutor/daily-session", token_path="/tutor/preferences", htmx=True
    )
    assert panel.status == 200, panel.text[:500]
    return page.text + panel.text


def seed_connected(cluster, app, world, count, accounts=None, sessions=False):
    """``count`` tutors of Center A, each connected to a Zoom user of its own: on an account
    of its own, or on one of ``accounts`` shared ones; ``sessions``: with today's Daily
    Session made in Zoom."""
    zoom = cluster.zoom
    settings = gateway(app).settings
    center = world["a"]
    day = daily.center_today(center)
    tutors = []
    for n in range(count):
        key = f"cluster{n}"
        shared = {"account_id": f"cluster-account-{n % accounts}"} if accounts else {}
        user = zoom.add_user(key, f"{key}@zoom.test", "Cal", f"Cluster {n}", **shared)
        tutor = make_user(f"{key}@x.edu", "tutor", [center], name=f"Cal Cluster {n}")
        with zoom.lock:
            grant = zoom._new_grant(user.id, zoom.config.granted_scopes())
        profile = user.to_json(zoom.now(), zoom.config.meeting_url_base)
        store_new_connection(tutor, profile, zoom.token_response(grant), settings)
        if sessions:
            body = daily.meeting_body(tutor, center, day)
            meeting = zoom.create_meeting(user, body, origin="zoom")
            DailySession.create(
                tutor=tutor,
                center=center,
                date=day,
                status="scheduled",
                zoom_meeting_id=meeting.id,
                uuid=meeting.uuid,
                host_id=user.id,
                join_url=meeting.join_url,
            )
        tutors.append((tutor, key))
    return tutors


def at_once(calls):
    """Run the calls in threads released together; their results in order."""
    gate = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = []

    def run(n, call):
        gate.wait()
        try:
            results[n] = call()
        except Exception as exc:  # noqa: BLE001 - re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[0]
    return results


def test_connected_on_server_a_joined_on_server_b_same_daily_session(cluster, world):
    a, b = cluster.urls
    tutor, student = world["tutor_a"], world["student_a"]
    tom = Visitor()
    tom.log_in(a, tutor.email)
    panel = connect_through(cluster, tom, a, "licensed")
    assert "is connected" in panel
    (meeting,) = cluster.zoom.meetings_of("licensed")
    assert format_meeting_number(meeting.id) in panel

    appointment = book_now(world, tutor)
    stu = Visitor()
    stu.log_in(b, student.email)
    join = stu.get(f"{b}/join/appointment/{appointment.id}")
    assert join.status == 303, join.text[:500]
    assert join.location.startswith(f"{cluster.zoom_url}/j/{meeting.id}?")
    assert stu.get(join.location).status == 200  # Zoom's page for that very meeting

    (session,) = DailySession.select().where(DailySession.tutor == tutor)
    assert session.zoom_meeting_id == meeting.id
    (event,) = eventually(lambda: list(JoinEvent.select()), len, "the Join was not recorded")
    assert (event.student_id, event.meeting_id) == (student.id, meeting.id)
    assert event.destination == JoinEvent.DAILY_SESSION
    assert len(cluster.zoom.meetings_of("licensed")) == 1  # server B made no second one


def test_webhook_deliveries_duplicated_across_servers_are_applied_once(cluster, world):
    tutor, center = world["tutor_a"], world["a"]
    ZoomConnection.create(tutor=tutor, zoom_user_id=HOST_ID, email="tom@zoom.example")
    DailySession.create(
        tutor=tutor,
        center=center,
        date=daily.center_today(center),
        status="scheduled",
        zoom_meeting_id=MEETING_ID,
        host_id=HOST_ID,
        join_url=f"https://zoom.us/j/{MEETING_ID}",
    )
    secret = cluster.env["ZOOM_WEBHOOK_SECRET_TOKEN"]
    at = utcnow().replace(microsecond=0)
    events = [
        participant("waiting", at + datetime.timedelta(seconds=n), pid=f"p-{n}", name=f"Stu {n}")
        for n in range(4)
    ]

    def deliver(base, event):
        body = compact(event)
        headers = signed_headers(body, secret)
        return Visitor().request("POST", f"{base}/webhooks/zoom", body, headers)

    # Each event four times, twice to each server, all at the same moment.
    calls = [
        (lambda base=base, event=event: deliver(base, event))
        for event in events
        for base in cluster.urls * 2
    ]
    answers = at_once(calls)
    assert [a.status for a in answers] == [200] * len(calls)
    for n in range(len(events)):
        said = sorted(a.text for a in answers[4 * n : 4 * n + 4])
        assert sum('"received"' in s for s in said) == 1, said
        assert sum('"duplicate"' in s for s in said) == 3, said

    rows = eventually(
        lambda: list(WebhookDelivery.select()),
        lambda rows: len(rows) == len(events) and all(r.status != "new" for r in rows),
        "the consumers did not process every delivery",
    )
    assert {r.status for r in rows} == {WebhookDelivery.DONE}
    assert PresenceEvent.select().count() == len(events)
    names = sorted(p.name for p in MeetingParticipant.select())
    assert names == [f"Stu {n}" for n in range(4)]


def test_one_expired_token_refreshed_from_both_servers_costs_one_token_call(cluster, world):
    a, b = cluster.urls
    tutor = world["tutor_a"]
    tom = Visitor()
    tom.log_in(a, tutor.email)
    connect_through(cluster, tom, a, "licensed")
    (session,) = DailySession.select().where(DailySession.tutor == tutor)
    old = ZoomConnection.for_tutor(tutor)
    cluster.zoom.expire_access_tokens("licensed")
    ZoomConnection.update(expires_at=utcnow() - datetime.timedelta(minutes=1)).where(
        ZoomConnection.id == old.id
    ).execute()

    start = f"/tutor/sessions/{session.id}/start"
    cluster.reset_zoom_stats()
    answers = at_once([(lambda base=base: tom.get(base + start)) for base in (a, b) * 3])
    for answer in answers:
        assert answer.status == 303, answer.text[:500]
        assert answer.location.startswith(f"{cluster.zoom_url}/s/{session.zoom_meeting_id}?")
    assert cluster.zoom_stats()["token_calls"] == 1
    fresh = ZoomConnection.get_by_id(old.id)
    assert fresh.status == "active"
    assert fresh.expires_at > utcnow()
    assert fresh.refresh_token_enc != old.refresh_token_enc  # rotated once, and kept


def test_four_provisioning_runs_over_both_consumers_make_one_meeting_per_tutor_day(
    cluster, app, world
):
    tutors = seed_connected(cluster, app, world, 6)
    cluster.zoom.set_latency(0.2)  # each run outlasts the start of the others: 4 workers busy
    task = huey_for(app).portal_tasks["provision_daily_sessions"]
    offsets = log_offsets(cluster)
    for _ in range(4):
        task()  # each run queues the tutors in batches of PROVISION_BATCH for the consumers
    batches = 4 * -(-len(tutors) // PROVISION_BATCH)
    runs = eventually(
        lambda: executed(cluster, offsets, "provision_daily_batch"),
        lambda runs: sum(runs.values()) == batches,
        f"the {batches} provisioning batches did not all run",
    )
    for name, count in runs.items():  # both consumers took a share of the batches
        assert count > 0, f"{name} ran no provisioning batch: {runs}"
    reports = [
        ast.literal_eval(line.split("provisioned a batch: ", 1)[1])
        for name, offset in offsets.items()
        for line in cluster.log_text(name)[offset:].splitlines()
        if "provisioned a batch: " in line
    ]
    assert sum(r["created"] for r in reports) == len(tutors)  # once each, whoever made it
    assert sum(r["failed"] for r in reports) == 0

    day = daily.center_today(world["a"])
    for tutor, key in tutors:
        made = [m for m in cluster.zoom.meetings_of(key) if daily.marker(tutor.id, day) in m.agenda]
        assert len(made) == 1, f"{tutor.email}: {len(made)} meetings for one day"
        (session,) = DailySession.select().where(DailySession.tutor == tutor)
        assert session.zoom_meeting_id == made[0].id and session.status in daily.READY


def test_health_scan_over_both_consumers_keeps_to_each_zoom_accounts_rate(cluster, app, world):
    # 24 tutors on 2 Zoom accounts: each account's budget, not the pool, sets the pace.
    tutors = seed_connected(cluster, app, world, 24, accounts=2, sessions=True)
    cluster.zoom.set_latency(0.02)
    cluster.reset_zoom_stats()
    offsets = log_offsets(cluster)
    admin = Visitor()
    admin.log_in(cluster.urls[0], world["admin_a"].email)
    started = admin.post_form(cluster.urls[0], "/admin/health/scans", token_path="/admin/health")
    assert started.status == 303
    assert "Health check started." in admin.get(cluster.urls[0] + "/admin/health").text

    (scan,) = eventually(
        lambda: list(HealthScan.select()),
        lambda rows: rows and rows[0].status in (HealthScan.DONE, HealthScan.FAILED),
        "the health scan did not finish",
    )
    assert scan.status == HealthScan.DONE, scan.error
    assert (scan.total, scan.unchecked) == (len(tutors), 0)
    batches = executed(cluster, offsets, "run_health_scan_batch")
    assert sum(batches.values()) == len(tutors) // SCAN_BATCH
    for name, count in batches.items():  # both consumers asked Zoom about a share
        assert count > 0, f"{name} ran no batch of the scan: {batches}"
    stats = cluster.zoom_stats()
    assert stats["rate_limited"] == 0, stats
    budget = RATE + BURST  # what one account's bucket lets through in any one second
    accounts = {k: v for k, v in stats["accounts"].items() if k.startswith("cluster-account-")}
    assert len(accounts) == 2 and sum(a["requests"] for a in accounts.values()) == scan.calls
    for account, counted in accounts.items():
        assert counted["peak_per_second"] <= budget, (account, counted)
