"""As deployed: 100 SIGKILLs of portal workers during mixed writes break no invariant.

While gunicorn workers are killed again and again, students press Join (creating their
tutors' Daily Sessions through the claim protocol), Zoom sends signed webhooks, the
morning provisioning runs, and health scans run. Afterwards the SQLite file passes
``PRAGMA integrity_check``, each tutor-day has exactly one meeting at Zoom and one
Daily Session that names it, no finding is open twice, and every answered Join is
recorded. Nothing here asserts a time.
"""

import datetime
import http.client
import os
import random
import signal
import threading
import traceback

from support import make_user

from e2e.browser import log_in as browser_log_in
from e2e.deployed.test_connect import authorize, book_now
from e2e.deployed.test_join_durable import log_in, workers
from portal import daily
from portal import db as dbmod
from portal.health import scanner
from portal.models import DailySession, Finding, JoinEvent, WebhookDelivery, utcnow
from portal.zoom.wiring import gateway

KILLS = int(os.environ.get("KILL_TEST_KILLS", "100"))


def test_a_hundred_kills_during_mixed_writes(app, deployed, new_page, world):
    zoom = deployed.zoom
    tutors = [world["tutor_a"]] + [
        make_user(f"kill{i}@x.edu", "tutor", [world["a"]], name=f"Kim Kill {i}") for i in (2, 3)
    ]
    for tutor, zoom_user in zip(tutors, ("tutor1", "tutor2", "licensed"), strict=True):
        watch = new_page()
        browser_log_in(watch, deployed.url, tutor.email)
        authorize(watch, deployed.url, zoom, zoom_user)
        watch.page.wait_for_selector(".meeting-number")  # its panel prepared today's session
        watch.page.context.close()
    # Nobody has today's session yet: Joins and provisioning race to create them.
    DailySession.delete().execute()
    for user in ("tutor1", "tutor2", "licensed"):
        for meeting in zoom.meetings_of(user):
            zoom.zoom_delete_meeting(meeting.id, notify=False)
    appointments = [book_now(world, tutor) for tutor in tutors]
    cookie = log_in(deployed.port, world["student_a"].email)

    stop = threading.Event()
    counts = {"answered": 0, "lost": 0}
    lock = threading.Lock()
    errors = []

    def joins(appointment):
        conn = None
        while not stop.is_set():
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", deployed.port, timeout=15)
                conn.request(
                    "GET", f"/join/appointment/{appointment.id}", headers={"Cookie": cookie}
                )
                answer = conn.getresponse()
                answer.read()
                if answer.status >= 500:
                    errors.append(f"Join answered {answer.status}")
                with lock:
                    counts["answered"] += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["lost"] += 1
                if conn is not None:
                    conn.close()  # its worker was killed: a new connection, this socket closed
                conn = None
        if conn is not None:
            conn.close()

    def background(work):
        def loop():
            while not stop.is_set():
                try:
                    with app.app_context(), dbmod.database.connection_context():
                        work()
                except Exception:  # noqa: BLE001 - collected and asserted below
                    errors.append(traceback.format_exc())
                stop.wait(0.2)

        return loop

    def provision():
        daily.provision(gateway(app))

    def scan():
        scanner.run_scan(app)

    def webhooks():
        for user in ("tutor1", "tutor2", "licensed"):
            for meeting in zoom.meetings_of(user):
                zoom.start_meeting(meeting.id)
                zoom.participant_waiting(meeting.id, name="Stu Student")
                zoom.end_meeting(meeting.id)

    threads = [threading.Thread(target=joins, args=(a,)) for a in appointments]
    threads += [threading.Thread(target=background(w)) for w in (provision, scan, webhooks)]
    for thread in threads:
        thread.start()
    (master,) = [proc for name, proc in deployed.processes if name == "portal"]
    kills = 0
    rng = random.Random(7)
    try:
        while kills < KILLS:
            alive = workers(master.pid)
            if alive:
                try:
                    os.kill(rng.choice(alive), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
            stop.wait(rng.uniform(0.1, 0.4))
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    assert kills == KILLS
    assert errors == [], errors[0]
    with app.app_context(), dbmod.database.connection_context():
        if dbmod.is_sqlite():
            assert dbmod.database.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
        day = daily.center_today(world["a"])
        for tutor, user in zip(tutors, ("tutor1", "tutor2", "licensed"), strict=True):
            marker = daily.marker(tutor.id, day)
            made = [m for m in zoom.meetings_of(user) if marker in (m.agenda or "")]
            assert len(made) <= 1, f"{tutor.email}: {len(made)} meetings for one day"
            # A claim whose worker was killed mid-create is taken over once its lease
            # runs out: the meeting it may have made is found by its marker, not repeated.
            later = utcnow() + daily.CLAIM_LEASE + datetime.timedelta(minutes=1)
            result = daily.ensure_daily_session(tutor, gateway(app), day=day, now=later)
            made = [m for m in zoom.meetings_of(user) if marker in (m.agenda or "")]
            assert len(made) == 1, f"{tutor.email}: {len(made)} meetings after recovery"
            (session,) = DailySession.select().where(DailySession.tutor == tutor)
            assert session.zoom_meeting_id == made[0].id and session.status in daily.READY
            assert result.outcome in ("existing", "created", "adopted")
        open_keys = [f.key for f in Finding.select().where(Finding.resolved_at.is_null())]
        assert len(open_keys) == len(set(open_keys))
        keys = [d.dedupe_key for d in WebhookDelivery.select()]
        assert len(keys) == len(set(keys))
        recorded = JoinEvent.select().count()
    assert counts["answered"] > 0 and recorded >= counts["answered"]
