"""Managing people: edit, deactivate, reactivate, add an existing user; who may do what."""

import pytest
from support import Auth, make_user

from portal import people
from portal.models import AuditEntry, Center, Membership, PasswordToken, User, WebSession


def snapshot():
    """Everything an edit could change: users and memberships."""
    users = sorted(
        User.select(
            User.id, User.name, User.email, User.role, User.active, User.session_version
        ).tuples()
    )
    members = sorted(Membership.select(Membership.user, Membership.center).tuples())
    return users, members


def centers_of(user):
    return sorted(c.name for c in Center.of(user))


def edit(auth, user, **fields):
    data = {"name": user.name, "email": user.email, "role": user.role}
    data.update(fields)
    centers = data.pop("centers", [c.id for c in Center.of(user)])
    data["centers"] = [str(c) for c in centers]
    return auth.post(f"/admin/users/{user.id}", data)


def test_users_page_links_to_each_users_page(login_as, client, world):
    login_as("admin_a")
    a = world["a"]
    html = client.get(f"/admin/centers/{a.id}/users").get_data(as_text=True)
    assert f'href="/admin/users/{world["tutor_a"].id}?center={a.id}"' in html
    page = client.get(f"/admin/users/{world['tutor_a'].id}?center={a.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Tom Tutor" in text and "Deactivate Tom Tutor" in text
    assert 'value="tutor.a@x.edu"' in text


def test_edit_name_email_role_and_centers(app, login_as, auth, client, world):
    admin = login_as("account_admin")
    tom = world["tutor_a"]
    other = app.test_client()
    Auth(other).as_user(tom)
    response = edit(
        auth,
        tom,
        name="Tomás Tutor",
        email="Tomas@X.edu",
        role="center_admin",
        centers=[world["a"].id, world["b"].id],
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/users/{tom.id}?center={world['a'].id}"
    fresh = User.get_by_id(tom.id)
    assert (fresh.name, fresh.email, fresh.role) == ("Tomás Tutor", "tomas@x.edu", "center_admin")
    assert centers_of(fresh) == ["Center A", "Center B"]
    assert other.get("/home").status_code != 200  # a role change logs them out
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved Tomás Tutor. They were logged out" in page
    entry = AuditEntry.get(AuditEntry.action == "user.update")
    assert entry.actor_id == admin.id and entry.target_id == tom.id
    assert entry.before["role"] == "tutor" and entry.after["role"] == "center_admin"
    assert entry.after["centers"] == ["Center A", "Center B"]


def test_edit_with_bad_input_is_a_400_and_changes_nothing(login_as, auth, world):
    login_as("account_admin")
    tom = world["tutor_a"]
    before = snapshot()
    for fields, message in [
        ({"email": "not-an-email"}, "Enter an e-mail address like"),
        ({"email": "student.a@x.edu"}, "Another user already has the e-mail"),
        ({"name": ""}, "Name is required."),
        ({"role": "wizard"}, "Role must be one of"),
        ({"centers": []}, "Choose at least one center"),
        ({"centers": ["abc"]}, "Choose centers from the list."),
    ]:
        response = edit(auth, tom, **fields)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True)
    assert snapshot() == before


def test_deactivate_logs_out_at_once_and_reactivate_lets_back_in(
    app, login_as, auth, client, world
):
    login_as("admin_a")
    stu = world["student_a"]
    theirs = app.test_client()
    Auth(theirs).as_user(stu)
    assert theirs.get("/home").status_code == 200

    response = auth.post(f"/admin/users/{stu.id}/deactivate")
    assert response.status_code == 303
    assert User.get_by_id(stu.id).active is False
    assert not WebSession.select().where(WebSession.user == stu.id).exists()
    after = theirs.get("/home")  # their very next request
    assert after.status_code == 302 and "/login" in after.headers["Location"]
    assert Auth(app.test_client()).login(stu.email).status_code == 401
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is deactivated and was logged out everywhere" in page
    assert "Reactivate Stu Student" in page
    assert AuditEntry.get(AuditEntry.action == "user.deactivate").target_id == stu.id

    assert auth.post(f"/admin/users/{stu.id}/reactivate").status_code == 303
    assert User.get_by_id(stu.id).active is True
    assert Auth(app.test_client()).login(stu.email).status_code == 303
    listing = client.get(f"/admin/centers/{world['a'].id}/users").get_data(as_text=True)
    assert "inactive" not in listing


def test_nobody_deactivates_themselves(login_as, auth, world):
    admin = login_as("admin_a")
    before = snapshot()
    response = auth.post(f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 403
    assert "You cannot deactivate yourself" in response.get_data(as_text=True)
    assert snapshot() == before


def test_nobody_changes_their_own_role(login_as, auth, world):
    admin = login_as("admin_a")
    before = snapshot()
    response = edit(auth, admin, role="student")
    assert response.status_code == 403
    assert "cannot change your own role" in response.get_data(as_text=True)
    assert snapshot() == before


def test_the_last_account_admin_stays(login_as, auth, world):
    ada = login_as("account_admin")
    before = snapshot()
    assert auth.post(f"/admin/users/{ada.id}/deactivate").status_code == 403
    assert edit(auth, ada, role="center_admin", centers=[world["a"].id]).status_code == 403
    assert snapshot() == before
    # the rule holds below the pages too, whoever asks (e.g. an admin deactivated meanwhile)
    gone = make_user("gone@x.edu", "account_admin", name="Gone Root", active=False)
    with pytest.raises(people.NotAllowed, match="last account administrator"):
        people.set_active(gone, ada, False)
    with pytest.raises(people.NotAllowed, match="last account administrator"):
        people.update_user(
            gone, ada, name=ada.name, email=ada.email, role="tutor", center_ids=[world["a"].id]
        )
    assert User.get_by_id(ada.id).active and User.get_by_id(ada.id).role == "account_admin"


def test_an_account_admin_deactivates_another_account_admin(login_as, auth, world):
    login_as("account_admin")
    second = make_user("second@x.edu", "account_admin", name="Second Root")
    assert auth.post(f"/admin/users/{second.id}/deactivate").status_code == 303
    assert User.get_by_id(second.id).active is False


# --- a center admin's limits --------------------------------------------------------


def test_center_admin_cannot_grant_a_role_above_their_own(login_as, auth, world):
    login_as("admin_a")
    before = snapshot()
    response = edit(auth, world["tutor_a"], role="account_admin")
    assert response.status_code == 403
    assert "You can give only these roles" in response.get_data(as_text=True)
    assert snapshot() == before


def test_center_admin_cannot_create_an_account_admin(login_as, auth, world):
    login_as("admin_a")
    before = snapshot()
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {"email": "boss@x.edu", "name": "Boss", "role": "account_admin", "password": ""},
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_center_admin_cannot_see_or_edit_users_outside_their_centers(login_as, auth, world):
    login_as("admin_a")
    tia = world["tutor_b"]
    before = snapshot()
    assert auth.get(f"/admin/users/{tia.id}").status_code == 404
    assert edit(auth, tia, name="Hacked").status_code == 404
    assert auth.post(f"/admin/users/{tia.id}/deactivate").status_code == 404
    assert auth.post(f"/admin/users/{tia.id}/reactivate").status_code == 404
    assert auth.get("/admin/users/99999999").status_code == 404
    assert snapshot() == before


def test_center_admin_cannot_edit_an_account_admin(login_as, auth, world):
    login_as("admin_a")
    root = world["account_admin"]
    Membership.create(user=root, center=world["a"])  # visible in Center A
    before = snapshot()
    page = auth.get(f"/admin/users/{root.id}")
    assert page.status_code == 200
    assert "Only an account administrator can change" in page.get_data(as_text=True)
    assert 'name="email"' not in page.get_data(as_text=True)
    response = edit(auth, root, name="Renamed", centers=[world["a"].id])
    assert response.status_code == 403
    assert auth.post(f"/admin/users/{root.id}/deactivate").status_code == 403
    assert snapshot() == before
    assert User.get_by_id(root.id).active


def test_center_admin_cannot_add_a_foreign_center(login_as, auth, world):
    login_as("admin_a")
    before = snapshot()
    response = edit(auth, world["tutor_a"], centers=[world["a"].id, world["b"].id])
    assert response.status_code == 403
    assert "only to your own centers" in response.get_data(as_text=True)
    assert snapshot() == before


def test_center_admin_keeps_the_users_other_centers(login_as, auth, world):
    login_as("admin_a")
    both = make_user("both@x.edu", "tutor", [world["a"], world["b"]], name="Bo Both")
    page = auth.get(f"/admin/users/{both.id}").get_data(as_text=True)
    assert "Also in Center B" in page
    response = edit(auth, both, name="Bo Both-Two", centers=[world["a"].id])
    assert response.status_code == 303
    assert centers_of(both) == ["Center A", "Center B"]  # B is not theirs to remove
    assert User.get_by_id(both.id).name == "Bo Both-Two"


def test_center_admin_removing_their_only_center_of_a_user_is_refused(login_as, auth, world):
    login_as("admin_a")
    before = snapshot()
    response = edit(auth, world["student_a"], centers=[])
    assert response.status_code == 400
    assert "Choose at least one center" in response.get_data(as_text=True)
    assert snapshot() == before


def test_students_and_tutors_cannot_reach_user_pages(login_as, auth, world):
    for key in ("student_a", "tutor_a"):
        login_as(key)
        before = snapshot()
        target = world["student_a"]
        assert auth.get(f"/admin/users/{target.id}").status_code == 403
        assert auth.post(f"/admin/users/{target.id}/deactivate").status_code == 403
        assert snapshot() == before
        auth.logout()


# --- adding an existing user ------------------------------------------------------


def test_add_an_existing_user_to_another_center(login_as, auth, client, world):
    login_as("account_admin")
    tia = world["tutor_b"]
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {"email": " Tutor.B@X.edu", "name": "", "role": "", "password": ""},
    )
    assert response.status_code == 303
    assert centers_of(tia) == ["Center A", "Center B"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tia Tutor (tutor.b@x.edu) already had an account: added to Center A as Tutor." in page
    assert User.select().where(User.email == "tutor.b@x.edu").count() == 1
    assert AuditEntry.get(AuditEntry.action == "user.add_center").center_id == world["a"].id


def test_center_admin_adds_an_existing_user_from_another_center(login_as, auth, world):
    login_as("admin_a")
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {"email": "student.b@x.edu", "name": "x", "role": "student", "password": ""},
    )
    assert response.status_code == 303
    assert centers_of(world["student_b"]) == ["Center A", "Center B"]


@pytest.mark.parametrize(
    "email, status, message",
    [
        ("tutor.a@x.edu", 400, "already exists and is already in Center A"),
        ("root@x.edu", 400, "already sees every center"),
    ],
)
def test_adding_an_existing_user_is_refused_when_pointless(
    login_as, auth, world, email, status, message
):
    login_as("admin_a")
    before = snapshot()
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {"email": email, "name": "x", "role": "student", "password": ""},
    )
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert snapshot() == before


# --- accounts shared with another center (an account administrator's to change) -----


def test_center_admin_cannot_pull_in_and_take_over_another_centers_admin(
    app, login_as, auth, world
):
    login_as("admin_a")
    bea = world["admin_b"]
    before = snapshot()
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {"email": "admin.b@x.edu", "name": "", "role": "", "password": ""},
    )
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "Bea Admin is a center administrator of another center" in text
    assert "An account administrator can do it." in text
    assert snapshot() == before
    # the rest of the path stays shut too: she is not theirs to see, edit or reset
    assert auth.get(f"/admin/users/{bea.id}").status_code == 404
    assert edit(auth, bea, email="mine@x.edu", centers=[world["b"].id]).status_code == 404
    assert snapshot() == before
    assert PasswordToken.select().count() == 0


def test_center_admin_cannot_change_the_email_of_a_user_also_in_another_center(
    login_as, auth, world
):
    login_as("admin_a")
    # adding another center's student stays allowed...
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {"email": "student.b@x.edu", "name": "", "role": "", "password": ""},
    )
    assert response.status_code == 303
    sue = User.get_by_id(world["student_b"].id)
    before = snapshot()
    # ...but her e-mail (the way to "Forgot password") is not Center A's to change
    response = edit(auth, sue, email="taken.over@x.edu", centers=[world["a"].id])
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "also in a center you do not manage, so you cannot change their e-mail" in text
    assert "An account administrator can do it." in text
    assert snapshot() == before
    assert User.by_email("taken.over@x.edu") is None


def test_center_admin_cannot_promote_a_tutor_shared_with_another_center(login_as, auth, world):
    login_as("admin_a")
    bo = make_user("both@x.edu", "tutor", [world["a"], world["b"]], name="Bo Both")
    page = auth.get(f"/admin/users/{bo.id}").get_data(as_text=True)
    assert "only an account administrator can change their e-mail or role" in page
    before = snapshot()
    response = edit(auth, bo, role="center_admin", centers=[world["a"].id])
    assert response.status_code == 403
    assert "so you cannot change their role" in response.get_data(as_text=True)
    assert snapshot() == before
    assert User.get_by_id(bo.id).role == "tutor"


def test_center_admin_cannot_deactivate_a_user_shared_with_another_center(
    app, login_as, auth, world
):
    login_as("admin_a")
    bo = make_user("both@x.edu", "tutor", [world["a"], world["b"]], name="Bo Both")
    before = snapshot()
    response = auth.post(f"/admin/users/{bo.id}/deactivate")
    assert response.status_code == 403
    assert "so you cannot deactivate them" in response.get_data(as_text=True)
    assert snapshot() == before
    assert Auth(app.test_client()).login(bo.email).status_code == 303  # still in, in B too


def test_center_admin_manages_a_user_whose_centers_are_all_theirs(login_as, auth, world):
    login_as("admin_a")
    tom = world["tutor_a"]
    assert edit(auth, tom, email="tom@x.edu", role="center_admin").status_code == 303
    fresh = User.get_by_id(tom.id)
    assert (fresh.email, fresh.role) == ("tom@x.edu", "center_admin")
    assert auth.post(f"/admin/users/{tom.id}/deactivate").status_code == 303
    assert User.get_by_id(tom.id).active is False


def test_an_account_admin_still_changes_shared_users_and_center_admins(login_as, auth, world):
    login_as("account_admin")
    a, b = world["a"], world["b"]
    bea = world["admin_b"]
    response = auth.post(
        f"/admin/centers/{a.id}/users",
        {"email": "admin.b@x.edu", "name": "", "role": "", "password": ""},
    )
    assert response.status_code == 303
    assert centers_of(bea) == ["Center A", "Center B"]
    bo = make_user("both@x.edu", "tutor", [a, b], name="Bo Both")
    assert edit(auth, bo, email="bo@x.edu", role="center_admin").status_code == 303
    fresh = User.get_by_id(bo.id)
    assert (fresh.email, fresh.role) == ("bo@x.edu", "center_admin")
    assert centers_of(fresh) == ["Center A", "Center B"]
    assert auth.post(f"/admin/users/{bo.id}/deactivate").status_code == 303
    assert User.get_by_id(bo.id).active is False
    assert auth.post(f"/admin/users/{bo.id}/reactivate").status_code == 303
    assert User.get_by_id(bo.id).active is True
