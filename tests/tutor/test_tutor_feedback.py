"""Feedback after an action and lists that refresh themselves: "Take next student" says
whom you took, and the polled partials of Today and the admin's queue carry new rows."""

import datetime
import re

import pytest
from support import Auth, make_user

from portal import join, walkins
from portal.models import Appointment, JoinEvent, TutorDevice, User, utcnow


@pytest.fixture
def people(app, world):
    world["student_a2"] = make_user("student2.a@x.edu", "student", [world["a"]], name="Sal Student")

    def browser(key):
        client = app.test_client()
        auth = Auth(client)
        auth.as_user(world[key])
        return client, auth

    world["browser"] = browser
    return world


def take(auth, world, htmx=False, **data):
    return auth.post(
        f"/tutor/walk-ins/{world['a'].id}/take", data, htmx=htmx, token_path="/tutor/today"
    )


def fragment(client, path):
    response = client.get(path, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    html = response.get_data(as_text=True)
    assert "<html" not in html
    return html


def messages_box(html):
    match = re.search(r'<div id="messages"[^>]*hx-swap-oob="true">(.*?)</div>', html, re.S)
    return match.group(1) if match else ""


def test_take_next_student_names_the_student_htmx(people):
    w = people
    walkins.join_queue(w["student_a"], w["a"])
    walkins.join_queue(w["student_a2"], w["a"])
    _, tutor = w["browser"]("tutor_a")
    html = take(tutor, w, htmx=True).get_data(as_text=True)
    said = messages_box(html)
    assert "You took Stu Student from the queue" in said and "Start" in said
    assert 'class="notice"' in said
    assert html.lstrip().startswith(f'<section id="walk-in-queue-{w["a"].id}"')
    assert "Sal Student" in html.split('<div id="messages"')[0]  # still waiting, listed
    chosen = Appointment.get(Appointment.student == w["student_a2"].id)
    again = take(tutor, w, htmx=True, entry_id=chosen.id).get_data(as_text=True)
    assert "You took Sal Student" in messages_box(again)


def test_take_next_student_names_the_student_without_htmx(people):
    w = people
    walkins.join_queue(w["student_a"], w["a"])
    client, tutor = w["browser"]("tutor_a")
    response = take(tutor, w)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You took Stu Student from the queue" in page


def test_a_refused_take_says_why_and_no_success(people):
    w = people
    _, tutor = w["browser"]("tutor_a")
    html = take(tutor, w, htmx=True).get_data(as_text=True)
    assert messages_box(html) == "" and "You took" not in html


def test_admin_assign_says_who_went_to_whom(people):
    w = people
    # Join reaches Tom through a Connect Link Center A allows, so no "not ready" warning.
    User.update(connect_link="https://meet.example.edu/tom").where(
        User.id == w["tutor_a"].id
    ).execute()
    walkins.join_queue(w["student_a"], w["a"])
    _, admin = w["browser"]("admin_a")
    html = admin.post(
        f"/admin/centers/{w['a'].id}/walk-ins/assign",
        {"tutor_id": w["tutor_a"].id},
        htmx=True,
        token_path="/admin/centers",
    ).get_data(as_text=True)
    assert "Stu Student assigned to Tom Tutor" in messages_box(html)


def test_student_leaving_the_queue_is_told(people):
    w = people
    _, student = w["browser"]("student_a")
    student.post(f"/student/walk-in/{w['a'].id}/join", htmx=True, token_path="/student/walk-in")
    html = student.post(
        f"/student/walk-in/{w['a'].id}/leave", htmx=True, token_path="/student/walk-in"
    ).get_data(as_text=True)
    assert "You left the walk-in queue." in messages_box(html)
    assert "Join virtual walk-in" in html


def test_admin_walk_in_queue_polls_and_shows_a_new_student(people):
    w = people
    admin, _ = w["browser"]("admin_a")
    path = f"/admin/centers/{w['a'].id}/walk-ins"
    before = fragment(admin, path)
    assert f'hx-get="{path}"' in before and 'hx-trigger="every 5s"' in before
    assert "data-poll" in before and "Stu Student" not in before
    walkins.join_queue(w["student_a"], w["a"])
    assert "Stu Student" in fragment(admin, path)
    day = admin.get(f"/admin/centers/{w['a'].id}/day").get_data(as_text=True)
    assert f'hx-get="{path}" hx-trigger="every 5s"' in day


def test_tutor_today_appointments_poll_and_show_a_new_booking(people):
    w = people
    tutor, _ = w["browser"]("tutor_a")
    path = f"/tutor/today/appointments/{w['a'].id}"
    page = tutor.get("/tutor/today").get_data(as_text=True)
    assert f'hx-get="{path}" hx-trigger="every 10s"' in page
    assert "No appointments today." in fragment(tutor, path)
    now = utcnow().replace(microsecond=0)
    Appointment.create(
        student=w["student_a2"],
        tutor=w["tutor_a"],
        center=w["a"],
        kind="online",
        start_at=now,
        end_at=now + datetime.timedelta(minutes=30),
    )
    html = fragment(tutor, path)
    assert html.lstrip().startswith(f'<section id="appointments-{w["a"].id}-card"')
    assert "Sal Student" in html and "Online" in html
    assert "<html" in tutor.get(path).get_data(as_text=True)  # a page without htmx


def test_tutor_today_joins_poll_and_show_a_new_join(people):
    w = people
    tutor, _ = w["browser"]("tutor_a")
    page = tutor.get("/tutor/today").get_data(as_text=True)
    assert 'hx-get="/tutor/today/joins" hx-trigger="every 10s"' in page
    assert "No Joins yet." in fragment(tutor, "/tutor/today/joins")
    JoinEvent.create(
        student=w["student_a"], tutor=w["tutor_a"], center=w["a"],
        destination="connect_link", reason="connect_link", device_id="d" * 24,
    )  # fmt: skip
    html = fragment(tutor, "/tutor/today/joins")
    assert "Stu Student" in html and "Connect Link" in html and "Device 1" in html


def test_polled_partials_keep_their_gates(people):
    w = people
    other, _ = w["browser"]("tutor_b")
    assert other.get(f"/tutor/today/appointments/{w['a'].id}").status_code == 404
    student, _ = w["browser"]("student_a")
    assert student.get("/tutor/today/joins").status_code == 403
    assert student.get(f"/admin/centers/{w['a'].id}/walk-ins").status_code == 403


def test_devices_are_numbered_per_student_never_shown_raw(people):
    w = people
    now = utcnow()
    rows = [("student_a", "first-browser-aaaaaaaa", 30), ("student_a", "second-browser-bbbb", 20)]
    rows += [("student_a", "first-browser-aaaaaaaa", 10), ("student_a2", "sal-browser-cccccc", 5)]
    for key, device, ago in rows:
        JoinEvent.create(
            student=w[key], tutor=w["tutor_a"], center=w["a"], destination="nowhere",
            reason="not_connected", device_id=device,
            created_at=now - datetime.timedelta(minutes=ago),
        )  # fmt: skip
    TutorDevice.create(tutor=w["tutor_a"], device_id="second-browser-bbbb", seen_at=now)
    found = list(join.events(w["a"].id, now - datetime.timedelta(hours=1), now))
    from portal.labels import device_names

    names = device_names(found)
    assert names[(w["student_a"].id, "first-browser-aaaaaaaa")] == "Device 1"
    assert names[(w["student_a"].id, "second-browser-bbbb")].startswith("Device 2 (a tutor")
    assert names[(w["student_a2"].id, "sal-browser-cccccc")] == "Device 1"
    admin, _ = w["browser"]("admin_a")
    html = admin.get(f"/admin/centers/{w['a'].id}/day").get_data(as_text=True)
    assert "Device 2 (a tutor pressed Start in this browser too)" in html
    assert "first-br" not in html and "second-b" not in html
