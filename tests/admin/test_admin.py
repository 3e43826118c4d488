"""Center settings, the Virtual Meetings switch, users and Connect Links."""

import pytest
from support import make_user

from portal.models import AuditEntry, Center, Membership, User

XSS = '<script>alert(1)</script>{{7*7}}\' hx-get="/admin"'


def vm(center):
    return Center.get_by_id(center.id).virtual_meetings_enabled


def test_center_admin_sees_only_their_centers(login_as, client, world):
    login_as("admin_a")
    html = client.get("/admin/centers").get_data(as_text=True)
    assert "Center A" in html and "Center B" not in html


def test_account_admin_sees_all_centers(login_as, client, world):
    login_as("account_admin")
    html = client.get("/admin/centers").get_data(as_text=True)
    assert "Center A" in html and "Center B" in html


def test_switch_as_plain_form_redirects_and_audits(login_as, auth, client, world):
    admin = login_as("admin_a")
    center = world["a"]
    response = auth.post(
        f"/admin/centers/{center.id}/virtual-meetings", {"enabled": "0", "confirm": "1"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/centers/{center.id}"
    assert vm(center) is False
    entry = AuditEntry.get(AuditEntry.action == "center.settings")
    assert entry.actor_id == admin.id and entry.center_id == center.id
    assert entry.before == {"virtual_meetings_enabled": True}
    assert entry.after == {"virtual_meetings_enabled": False}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Virtual Meetings is off for Center A." in page
    assert "Abe Admin" in page and "Virtual Meetings</span>: <del>On</del> → <ins>Off</ins>" in page


def test_switch_as_htmx_returns_the_fragment(login_as, auth, world):
    login_as("admin_a")
    response = auth.post(
        f"/admin/centers/{world['a'].id}/virtual-meetings",
        {"enabled": "0", "confirm": "1"},
        htmx=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="vm-switch"')
    assert "Virtual Meetings is off for Center A." in html
    assert "<html" not in html
    assert 'aria-checked="false"' in html
    assert response.headers["HX-Trigger"] == "settings-changed"
    assert "HX-Request" in response.headers["Vary"]


def test_switching_to_the_same_value_writes_no_audit(login_as, auth, world):
    login_as("admin_a")
    auth.post(f"/admin/centers/{world['a'].id}/virtual-meetings", {"enabled": "1"})
    assert AuditEntry.select().count() == 0


@pytest.mark.parametrize("value", ["", "2", "on", "x" * 10000])
def test_switch_rejects_bad_values(login_as, auth, world, value):
    login_as("admin_a")
    response = auth.post(f"/admin/centers/{world['a'].id}/virtual-meetings", {"enabled": value})
    assert response.status_code == 400
    assert "Choose on or off." in response.get_data(as_text=True)
    assert vm(world["a"]) is True and AuditEntry.select().count() == 0


def test_settings_save_and_history(login_as, auth, client, world):
    login_as("admin_a")
    center = world["a"]
    data = {
        "waiting_room_default": "",
        "allow_connect_links": "1",
        "opens_at": "08:30",
        "closes_at": "20:00",
        "waiting_room_limit_minutes": "7",
    }
    response = auth.post(f"/admin/centers/{center.id}/settings", data, htmx=True)
    assert response.status_code == 200 and "Settings saved." in response.get_data(as_text=True)
    stored = Center.get_by_id(center.id)
    assert (stored.opens_at, stored.closes_at, stored.waiting_room_limit_minutes) == (
        "08:30",
        "20:00",
        7,
    )
    assert stored.waiting_room_default is False
    entry = AuditEntry.get(AuditEntry.action == "center.settings")
    assert entry.before["opens_at"] == "09:00" and entry.after["opens_at"] == "08:30"
    history = client.get(f"/admin/centers/{center.id}/history", headers={"HX-Request": "true"})
    assert "08:30" in history.get_data(as_text=True)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"opens_at": ""}, "Opening time must be a time like 09:00."),
        ({"opens_at": "25:00"}, "Opening time must be a time like 09:00."),
        ({"closes_at": "x" * 10000}, "Closing time must be a time like 09:00."),
        (
            {"opens_at": "18:00", "closes_at": "08:00"},
            "The closing time must be after the opening time.",
        ),
        ({"waiting_room_limit_minutes": "0"}, "between 1 and 120"),
        ({"waiting_room_limit_minutes": "ten"}, "whole number"),
    ],
)
def test_settings_reject_bad_input_and_change_nothing(login_as, auth, world, changes, message):
    login_as("admin_a")
    data = {"opens_at": "09:00", "closes_at": "17:00", "waiting_room_limit_minutes": "5"}
    data.update(changes)
    response = auth.post(f"/admin/centers/{world['a'].id}/settings", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    stored = Center.get_by_id(world["a"].id)
    assert (stored.opens_at, stored.closes_at, stored.waiting_room_limit_minutes) == (
        "09:00",
        "17:00",
        5,
    )
    assert AuditEntry.select().count() == 0


def test_connect_link_edit_plain_and_htmx(login_as, auth, client, world):
    login_as("admin_a")
    tutor, center = world["tutor_a"], world["a"]
    url = f"/admin/centers/{center.id}/users/{tutor.id}/connect-link"
    page = client.get(url)
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    fragment = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<div id="connect-link-{tutor.id}"')
    response = auth.post(url, {"connect_link": "https://zoom.us/j/1234567890"})
    assert response.status_code == 303
    assert User.get_by_id(tutor.id).connect_link == "https://zoom.us/j/1234567890"
    response = auth.post(url, {"connect_link": ""}, htmx=True)
    assert response.status_code == 200 and "none" in response.get_data(as_text=True)
    assert User.get_by_id(tutor.id).connect_link is None
    actions = [e.after for e in AuditEntry.select().where(AuditEntry.action == "user.connect_link")]
    assert actions == [{"connect_link": "https://zoom.us/j/1234567890"}, {"connect_link": None}]


@pytest.mark.parametrize(
    "value, message",
    [
        ("javascript:alert(1)", "must be a web address starting with https:// or http://"),
        ("ftp://files.example.edu/x", "must be a web address starting with https:// or http://"),
        ("zoom.us/j/123", "must be a web address starting with https:// or http://"),
        ("https://" + "a" * 10000 + ".edu", "at most 500 characters"),
        ("https://zoom.us/j/1 2", "without spaces"),
        ("https://", "must be a web address"),
    ],
)
def test_connect_link_rejects_bad_urls(login_as, auth, world, value, message):
    login_as("admin_a")
    User.update(connect_link="https://college.edu/keep").where(
        User.id == world["tutor_a"].id
    ).execute()
    url = f"/admin/centers/{world['a'].id}/users/{world['tutor_a'].id}/connect-link"
    response = auth.post(url, {"connect_link": value}, htmx=True)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert User.get_by_id(world["tutor_a"].id).connect_link == "https://college.edu/keep"


def test_connect_link_only_for_tutors(login_as, auth, world):
    login_as("admin_a")
    url = f"/admin/centers/{world['a'].id}/users/{world['student_a'].id}/connect-link"
    assert auth.get(url).status_code == 404
    assert auth.post(url, {"connect_link": "https://x.edu"}).status_code == 404


def id_routes(world):
    a, b = world["a"].id, world["b"].id
    tb = world["tutor_b"].id
    ta = world["tutor_a"].id
    return [
        ("GET", f"/admin/centers/{b}"),
        ("GET", f"/admin/centers/{b}/users"),
        ("GET", f"/admin/centers/{b}/history"),
        ("POST", f"/admin/centers/{b}/virtual-meetings"),
        ("POST", f"/admin/centers/{b}/settings"),
        ("POST", f"/admin/centers/{b}/users"),
        ("GET", f"/admin/centers/{b}/users/{tb}/connect-link"),
        ("POST", f"/admin/centers/{b}/users/{tb}/connect-link"),
        # own center, but a user of another center
        ("GET", f"/admin/centers/{a}/users/{tb}/connect-link"),
        ("POST", f"/admin/centers/{a}/users/{tb}/connect-link"),
        # unknown, huge and negative ids
        ("GET", "/admin/centers/999999"),
        ("GET", f"/admin/centers/{a}/users/99999999999/connect-link"),
        ("GET", f"/admin/centers/{a}/users/{ta}0/connect-link"),
    ]


def test_other_centers_objects_are_404_for_a_center_admin(login_as, auth, world):
    login_as("admin_a")
    before = (
        [(c.id, c.virtual_meetings_enabled, c.opens_at) for c in Center.select()],
        [(u.id, u.connect_link) for u in User.select()],
        User.select().count(),
    )
    for method, url in id_routes(world):
        if method == "GET":
            response = auth.get(url)
        else:
            response = auth.post(
                url,
                {
                    "enabled": "0",
                    "confirm": "1",
                    "connect_link": "https://evil.tld",
                    "email": "n@x.edu",
                    "name": "N",
                    "role": "student",
                    "password": "long-enough-pw",
                },
            )
        assert response.status_code == 404, (method, url, response.status_code)
    after = (
        [(c.id, c.virtual_meetings_enabled, c.opens_at) for c in Center.select()],
        [(u.id, u.connect_link) for u in User.select()],
        User.select().count(),
    )
    assert before == after
    assert AuditEntry.select().count() == 0


def test_account_admin_may_open_any_center(login_as, client, world):
    login_as("account_admin")
    assert client.get(f"/admin/centers/{world['b'].id}").status_code == 200
    assert client.get(f"/admin/centers/{world['b'].id}/users").status_code == 200


@pytest.mark.parametrize("who", ["student_a", "tutor_a"])
def test_students_and_tutors_get_403_on_admin_pages(login_as, auth, world, who):
    login_as(who)
    a = world["a"].id
    for path in ["/admin/centers", f"/admin/centers/{a}", f"/admin/centers/{a}/users"]:
        assert auth.get(path).status_code == 403
        assert auth.get(path, htmx=True).status_code == 403
    response = auth.post(f"/admin/centers/{a}/virtual-meetings", {"enabled": "0"}, htmx=True)
    assert response.status_code == 403
    assert vm(world["a"]) is True


def test_add_user_to_center(login_as, auth, client, world):
    login_as("admin_a")
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {
            "email": "New.Tutor@X.edu",
            "name": "Nia New",
            "role": "tutor",
            "password": "long-enough-pw",
        },
    )
    assert response.status_code == 303
    user = User.by_email("new.tutor@x.edu")
    assert user.role == "tutor" and user.password_hash.startswith("$argon2id$")
    assert Membership.get(Membership.user == user).center_id == world["a"].id


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"role": "account_admin"}, "Role must be one of: student, tutor, center_admin."),
        ({"email": ""}, "E-mail address is required."),
        ({"email": "not-an-email"}, "Enter an e-mail address like"),
        ({"email": "tutor.a@x.edu"}, "already exists"),
        ({"name": "n" * 10000}, "at most 200 characters"),
        ({"name": ""}, "Name is required."),
        ({"password": "short"}, "at least 8 characters"),
    ],
)
def test_add_user_rejects_bad_input(login_as, auth, world, overrides, message):
    login_as("admin_a")
    data = {"email": "ok@x.edu", "name": "Ok", "role": "student", "password": "long-enough-pw"}
    data.update(overrides)
    count = User.select().count()
    response = auth.post(f"/admin/centers/{world['a'].id}/users", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert User.select().count() == count


def test_user_input_is_escaped_everywhere(login_as, auth, client, world):
    make_user("xss@x.edu", "tutor", [world["a"]], name=XSS, connect_link="https://x.edu/?q=<b>")
    login_as("admin_a")
    html = client.get(f"/admin/centers/{world['a'].id}/users").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html and "{{7*7}}" in html and "49" not in html
    assert "?q=<b>" not in html


def test_new_center_only_for_account_admins(login_as, auth, client, world):
    login_as("admin_a")
    assert client.get("/admin/centers/new").status_code == 403
    assert auth.post("/admin/centers/new", {"name": "Z", "timezone": "UTC"}).status_code == 403
    assert not Center.select().where(Center.name == "Z").exists()


def test_account_admin_creates_center_with_validation(login_as, auth, world):
    login_as("account_admin")
    bad = auth.post("/admin/centers/new", {"name": "Science", "timezone": "Mars/Base"})
    assert bad.status_code == 400 and "not a known time zone" in bad.get_data(as_text=True)
    dup = auth.post("/admin/centers/new", {"name": "Center A", "timezone": "UTC"})
    assert dup.status_code == 400 and "already exists" in dup.get_data(as_text=True)
    ok = auth.post("/admin/centers/new", {"name": "Science", "timezone": "Europe/Berlin"})
    assert ok.status_code == 303
    assert Center.get(Center.name == "Science").timezone == "Europe/Berlin"
