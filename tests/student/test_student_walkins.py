"""Virtual walk-ins with two students and two tutors: queue, place, take, leave, Join."""

import re
import threading

import pytest
from support import Auth, make_user

from portal import walkins
from portal.models import Appointment, AuditEntry, DailySession, JoinEvent, User, ZoomConnection
from portal.walkins import WalkInError

JOIN_URL = "https://us05web.zoom.us/j/85746065432?pwd=s3cret"
# Where Join sends Stu Student: the join link with their name for the waiting room.
SENT_TO = JOIN_URL + "&uname=Stu%20Student"


@pytest.fixture
def people(app, world):
    """Center A gets a second tutor and a second student; each person has their own browser."""
    world["tutor_a2"] = make_user("tutor2.a@x.edu", "tutor", [world["a"]], name="Ted Tutor")
    world["student_a2"] = make_user("student2.a@x.edu", "student", [world["a"]], name="Sal Student")
    # Join reaches both tutors (a Connect Link Center A allows); tests of tutors it
    # doesn't reach take the links away.
    for key in ("tutor_a", "tutor_a2"):
        User.update(connect_link=f"https://meet.example.edu/{key}").where(
            User.id == world[key].id
        ).execute()

    def browser(key):
        client = app.test_client()
        auth = Auth(client)
        auth.as_user(world[key])
        return client, auth

    world["browser"] = browser
    return world


def queue_path(world, action=""):
    return f"/student/walk-in/{world['a'].id}" + (f"/{action}" if action else "")


def join_queue(auth, world, htmx=False):
    return auth.post(queue_path(world, "join"), htmx=htmx, token_path="/student/walk-in")


def take(auth, world, entry_id=None, htmx=False):
    data = {"entry_id": entry_id} if entry_id else {}
    return auth.post(
        f"/tutor/walk-ins/{world['a'].id}/take", data, htmx=htmx, token_path="/tutor/today"
    )


def status(client, world):
    response = client.get(queue_path(world), headers={"HX-Request": "true"})
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    return response.get_data(as_text=True)


def place(html):
    match = re.search(r'class="queue-place">(\d+)<', html)
    return int(match.group(1)) if match else None


def test_two_students_two_tutors(people):
    w = people
    s1, s1_auth = w["browser"]("student_a")
    s2, s2_auth = w["browser"]("student_a2")
    t1, t1_auth = w["browser"]("tutor_a")
    t2, t2_auth = w["browser"]("tutor_a2")

    assert join_queue(s1_auth, w).status_code == 303
    assert join_queue(s2_auth, w, htmx=True).status_code == 200
    first, second = status(s1, w), status(s2, w)
    assert place(first) == 1 and place(second) == 2
    assert 'hx-trigger="every 3s"' in first and "<html" not in first
    assert "Sal Student" not in first  # a student sees their place, not the others' names

    today = t1.get("/tutor/today").get_data(as_text=True)
    assert "Stu Student" in today and "Sal Student" in today and "Take next student" in today

    response = take(t1_auth, w)
    assert response.status_code == 303
    entry1 = Appointment.get(Appointment.student == w["student_a"].id)
    assert (entry1.status, entry1.tutor_id) == ("assigned", w["tutor_a"].id)

    ready = status(s1, w)
    assert "Your tutor is ready — Join" in ready and "Tom Tutor" in ready
    assert f'href="/join/appointment/{entry1.id}"' in ready
    assert "hx-trigger" not in ready  # no more polling once a tutor took the student
    assert place(status(s2, w)) == 1

    entry2 = Appointment.get(Appointment.student == w["student_a2"].id)
    # Tutor 2 takes the chosen student; tutor 1 pressing Take on them a moment later loses.
    assert take(t2_auth, w, entry2.id, htmx=True).status_code == 200
    late = take(t1_auth, w, entry2.id, htmx=True).get_data(as_text=True)
    assert "no longer waiting" in late and late.lstrip().startswith("<section")
    assert Appointment.get_by_id(entry2.id).tutor_id == w["tutor_a2"].id
    assert "Nobody is waiting" in take(t1_auth, w, htmx=True).get_data(as_text=True)
    assert "Ted Tutor" in status(s2, w)


def test_joining_twice_keeps_one_place(people):
    w = people
    client, auth = w["browser"]("student_a")
    join_queue(auth, w)
    join_queue(auth, w)
    assert Appointment.select().where(Appointment.kind == "walk_in").count() == 1
    entry = walkins.join_queue(w["student_a"], w["a"])
    assert entry.id == Appointment.get().id


def test_a_student_leaves_the_queue(people):
    w = people
    s1, s1_auth = w["browser"]("student_a")
    s2, s2_auth = w["browser"]("student_a2")
    join_queue(s1_auth, w)
    join_queue(s2_auth, w)
    response = s1_auth.post(queue_path(w, "leave"), htmx=True, token_path="/student/walk-in")
    assert "Join virtual walk-in" in response.get_data(as_text=True)
    assert Appointment.get(Appointment.student == w["student_a"].id).status == "left"
    assert place(status(s2, w)) == 1
    # rejoining puts the student at the back
    join_queue(s1_auth, w)
    assert place(status(s1, w)) == 2


def test_other_centers_cannot_see_or_touch_the_queue(people):
    w = people
    _, s1_auth = w["browser"]("student_a")
    join_queue(s1_auth, w)
    other_student, other_auth = w["browser"]("student_b")
    assert other_student.get(queue_path(w)).status_code == 404
    assert other_auth.post(queue_path(w, "join"), token_path="/student/walk-in").status_code == 404
    assert other_auth.post(queue_path(w, "leave"), token_path="/student/walk-in").status_code == 404
    tutor_b, tutor_b_auth = w["browser"]("tutor_b")
    assert tutor_b.get(f"/tutor/walk-ins/{w['a'].id}").status_code == 404
    assert take(tutor_b_auth, w).status_code == 404
    assert Appointment.get().status == "waiting"


def test_center_without_virtual_meetings_has_no_queue(people):
    w = people
    client, auth = w["browser"]("student_b")
    assert "haven't switched Virtual Meetings on" in client.get("/student/walk-in").get_data(
        as_text=True
    )
    assert (
        auth.post(f"/student/walk-in/{w['b'].id}/join", token_path="/student/walk-in").status_code
        == 404
    )
    with pytest.raises(WalkInError):
        walkins.join_queue(w["student_b"], w["b"])


def test_queue_posts_need_csrf(people):
    w = people
    client, _ = w["browser"]("student_a")
    assert client.post(queue_path(w, "join")).status_code == 400
    assert Appointment.select().count() == 0


def test_admin_assigns_a_chosen_student_to_a_tutor(people):
    w = people
    _, s1_auth = w["browser"]("student_a")
    join_queue(s1_auth, w)
    entry = Appointment.get()
    admin, admin_auth = w["browser"]("admin_a")
    page = admin.get(f"/admin/centers/{w['a'].id}/day").get_data(as_text=True)
    assert "Stu Student" in page and "Assign" in page
    path = f"/admin/centers/{w['a'].id}/walk-ins/assign"
    other_tutor = admin_auth.post(
        path, {"entry_id": entry.id, "tutor_id": w["tutor_b"].id}, token_path="/admin/centers"
    )
    assert other_tutor.status_code == 404
    response = admin_auth.post(
        path, {"entry_id": entry.id, "tutor_id": w["tutor_a2"].id}, token_path="/admin/centers"
    )
    assert response.status_code == 303
    assert Appointment.get_by_id(entry.id).tutor_id == w["tutor_a2"].id
    _, admin_b_auth = w["browser"]("admin_b")
    assert (
        admin_b_auth.post(
            path, {"entry_id": entry.id, "tutor_id": w["tutor_a"].id}, token_path="/admin/centers"
        ).status_code
        == 404
    )


def test_two_tutors_taking_at_once_never_share_a_student(people):
    w = people
    walkins.join_queue(w["student_a"], w["a"])
    results, barrier = [], threading.Barrier(2)

    def worker(tutor):
        from portal import db as dbmod

        try:
            barrier.wait()
            results.append(walkins.take(w["a"], tutor).tutor_id)
        except WalkInError as exc:
            results.append(str(exc))
        finally:
            if not dbmod.database.is_closed():
                dbmod.database.close()

    threads = [threading.Thread(target=worker, args=(w[k],)) for k in ("tutor_a", "tutor_a2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1 and Appointment.get().tutor_id == winners[0]


def test_assigned_walk_in_joins_the_tutors_daily_session(people):
    w = people
    from portal import daily

    ZoomConnection.create(tutor=w["tutor_a"], zoom_user_id="zu", email="t@x.edu")
    DailySession.create(
        tutor=w["tutor_a"],
        center=w["a"],
        date=daily.center_today(w["a"]),
        status="scheduled",
        zoom_meeting_id=85746065432,
        join_url=JOIN_URL,
    )
    client, auth = w["browser"]("student_a")
    join_queue(auth, w)
    entry = Appointment.get()
    # still waiting: Join sends the student back to the queue page
    waiting = client.get(f"/join/appointment/{entry.id}")
    assert waiting.status_code == 303 and waiting.headers["Location"] == "/student/walk-in"
    walkins.take(w["a"], w["tutor_a"])
    response = client.get(f"/join/appointment/{entry.id}")
    assert response.status_code == 303 and response.headers["Location"] == SENT_TO
    event = JoinEvent.get()
    assert event.appointment_id == entry.id and event.destination == "daily_session"
    page = client.get("/student/").get_data(as_text=True)
    assert "Virtual walk-in" in page and f"/join/appointment/{entry.id}" in page


def test_student_page_works_without_htmx(people):
    w = people
    client, auth = w["browser"]("student_a")
    join_queue(auth, w)
    html = client.get(queue_path(w)).get_data(as_text=True)
    assert "<html" in html and "You are number" in html


def test_queue_fragments_for_htmx_and_pages_without(people):
    w = people
    walkins.join_queue(w["student_a"], w["a"])
    tutor, _ = w["browser"]("tutor_a")
    path = f"/tutor/walk-ins/{w['a'].id}"
    fragment = tutor.get(path, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<section id="walk-in-queue-{w["a"].id}"')
    assert 'hx-trigger="every 5s"' in fragment and "Stu Student" in fragment
    assert "<html" in tutor.get(path).get_data(as_text=True)
    admin, _ = w["browser"]("admin_a")
    path = f"/admin/centers/{w['a'].id}/walk-ins"
    fragment = admin.get(path, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith("<section") and "Assign" in fragment
    assert "<html" in admin.get(path).get_data(as_text=True)


def test_a_place_left_waiting_yesterday_does_not_block_today(people):
    import datetime

    w = people
    entry = walkins.join_queue(w["student_a"], w["a"])
    Appointment.update(start_at=entry.start_at - datetime.timedelta(days=1)).execute()
    fresh = walkins.join_queue(w["student_a"], w["a"])
    assert fresh.id != entry.id and fresh.status == "waiting"
    assert Appointment.get_by_id(entry.id).status == "left"
    assert [e.id for e in walkins.queue(w["a"])] == [fresh.id]


def test_admin_assigns_the_next_student(people):
    w = people
    walkins.join_queue(w["student_a"], w["a"])
    walkins.join_queue(w["student_a2"], w["a"])
    _, admin_auth = w["browser"]("admin_a")
    response = admin_auth.post(
        f"/admin/centers/{w['a'].id}/walk-ins/assign",
        {"tutor_id": w["tutor_a2"].id},
        htmx=True,
        token_path="/admin/centers",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Assign the next student" in html
    first = Appointment.get(Appointment.student == w["student_a"].id)
    assert (first.status, first.tutor_id) == ("assigned", w["tutor_a2"].id)
    assert Appointment.get(Appointment.student == w["student_a2"].id).status == "waiting"


# --- tutors Join would not reach -------------------------------------------------------------


def _unreachable(w, key="tutor_a2"):
    """The tutor's Zoom connection stopped working: Join would send students nowhere."""
    ZoomConnection.create(
        tutor=w[key], zoom_user_id=f"zu-{key}", email=f"{key}@x.edu", status="needs_reauth"
    )


@pytest.mark.parametrize("htmx", [False, True])
def test_admin_assigning_to_a_not_ready_tutor_is_warned_and_must_confirm(people, htmx):
    w = people
    _unreachable(w)
    _, s1_auth = w["browser"]("student_a")
    join_queue(s1_auth, w)
    entry = Appointment.get()
    admin, admin_auth = w["browser"]("admin_a")
    day = admin.get(f"/admin/centers/{w['a'].id}/day").get_data(as_text=True)
    assert (
        "Ted Tutor (not available online)" in day and "Tom Tutor (not available online)" not in day
    )
    path = f"/admin/centers/{w['a'].id}/walk-ins/assign"
    choice = {"entry_id": entry.id, "tutor_id": w["tutor_a2"].id}
    first = admin_auth.post(path, choice, htmx=htmx, token_path="/admin/centers")
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "Ted Tutor is not available online" in html and "stopped working" in html
    assert "Assign to Ted Tutor anyway" in html and 'name="confirm" value="1"' in html
    assert Appointment.get_by_id(entry.id).status == "waiting"  # nothing changed yet
    assert not AuditEntry.select().where(AuditEntry.action == "walk_in.assign").exists()
    confirmed = admin_auth.post(
        path, {**choice, "confirm": "1"}, htmx=htmx, token_path="/admin/centers"
    )
    assert confirmed.status_code == (200 if htmx else 303)
    taken = Appointment.get_by_id(entry.id)
    assert (taken.status, taken.tutor_id) == ("assigned", w["tutor_a2"].id)
    assert AuditEntry.select().where(AuditEntry.action == "walk_in.assign").count() == 1


def test_assigning_the_next_student_to_a_not_ready_tutor_names_them_in_the_warning(people):
    w = people
    _unreachable(w)
    _, s1_auth = w["browser"]("student_a")
    join_queue(s1_auth, w)
    _, admin_auth = w["browser"]("admin_a")
    path = f"/admin/centers/{w['a'].id}/walk-ins/assign"
    html = admin_auth.post(
        path, {"tutor_id": w["tutor_a2"].id}, token_path="/admin/centers"
    ).get_data(as_text=True)
    assert "If you assign Stu Student anyway" in html
    assert Appointment.get().status == "waiting"
    ready = admin_auth.post(path, {"tutor_id": w["tutor_a"].id}, token_path="/admin/centers")
    assert ready.status_code == 303  # a tutor Join reaches: no second step
    assert Appointment.get().tutor_id == w["tutor_a"].id


def test_student_is_not_told_the_tutor_is_ready_when_join_would_not_reach_them(people):
    w = people
    _unreachable(w, "tutor_a")
    s1, s1_auth = w["browser"]("student_a")
    join_queue(s1_auth, w)
    _, t1_auth = w["browser"]("tutor_a")
    assert take(t1_auth, w).status_code == 303
    html = status(s1, w)
    assert "Your tutor is ready" not in html
    assert "Tom Tutor took you from the queue, but their online room isn't working" in html
    ZoomConnection.update(status="active").where(ZoomConnection.tutor == w["tutor_a"].id).execute()
    assert "Your tutor is ready — Join" in status(s1, w)
