"""Importing users from a CSV file: a preview with every row checked, then all or nothing."""

import base64
import io
import re

import pytest
from support import make_user
from support.mail import SMTPServer, mail_config

from portal import user_import
from portal.models import Membership, PasswordToken, User
from portal.notifications import outbox

HEADER = "email,name,role,centers\n"


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return mail_config(app_config, smtp)


def upload(auth, text, filename="people.csv"):
    data = text.encode() if isinstance(text, str) else text
    return auth.post(
        "/admin/users/import",
        {"file": (io.BytesIO(data), filename)},
        token_path="/admin/users/import",
        content_type="multipart/form-data",
    )


def confirm_fields(html):
    text = re.search(r'name="text" value="([^"]*)"', html).group(1)
    digest = re.search(r'name="digest" value="([^"]*)"', html).group(1)
    return {"text": text, "digest": digest}


def counts():
    return User.select().count(), Membership.select().count(), PasswordToken.select().count()


def test_import_happy_path(app, login_as, auth, client, smtp, world):
    login_as("admin_a")
    make_user("old@x.edu", "student", [world["b"]], name="Olga Old")
    page = client.get(f"/admin/centers/{world['a'].id}/users").get_data(as_text=True)
    assert 'href="/admin/users/import"' in page
    text = (
        "Name,E-mail,Role,Centers,Notes\n"  # any order, extra columns ignored
        "Ana Lopez,Ana@X.edu,student,Center A,first\n"
        "Ben Okafor,ben@x.edu,Tutor,center a,\n"
        "Cy Admin,cy@x.edu,center_admin,Center A;Center A,\n"
        "Olga Old,old@x.edu,student,Center A,returning\n"
    ).replace("E-mail", "email")
    preview = upload(auth, text)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200, html
    assert "Every row is good: 3 new user(s), 1 existing user(s) added to centers" in html
    assert "ana@x.edu" in html and "Has an account: added to these centers" in html
    assert counts() == (8, 7, 0)  # the preview writes nothing

    done = auth.post(
        "/admin/users/import/confirm", confirm_fields(html), token_path="/admin/users/import"
    )
    assert done.status_code == 303
    assert "3 new user(s) imported" in client.get(done.headers["Location"]).get_data(as_text=True)
    ana, ben, cy = (User.by_email(e) for e in ("ana@x.edu", "ben@x.edu", "cy@x.edu"))
    assert (ana.role, ben.role, cy.role) == ("student", "tutor", "center_admin")
    for user in (ana, ben, cy):
        assert [c.name for c in user.centers()] == ["Center A"]
    olga = User.by_email("old@x.edu")
    assert sorted(c.name for c in olga.centers()) == ["Center A", "Center B"]
    assert PasswordToken.select().where(PasswordToken.purpose == "invite").count() == 3

    outbox.deliver_due(app)
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["ana@x.edu", "ben@x.edu", "cy@x.edu"]
    assert all(m.subject == "You are invited to the Virtual Meetings Portal" for m in smtp.messages)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("bad-email,Bad Email,student,Center A", "Enter an e-mail address like"),
        (",No Email,student,Center A", "The e-mail address is missing."),
        ("w@x.edu,Wizard,wizard,Center A", "Unknown role 'wizard'"),
        ("r@x.edu,Root,account_admin,", "You cannot give the role Account administrator"),
        ("u@x.edu,Unknown Center,student,Mars Center", "No center is named 'Mars Center'."),
        ("f@x.edu,Foreign,student,Center B", "Center B is not one of your centers."),
        ("n@x.edu,,student,Center A", "Name is required."),
        ("dup@x.edu,Second Copy,student,Center A", "also on line 2 of the file"),
        ("c@x.edu,No Center,student,", "Name at least one center"),
        ("tutor.b@x.edu,Tia,student,Center A", "already has an account as Tutor"),
    ],
)
def test_bad_rows_are_listed_and_nothing_is_imported(login_as, auth, world, line, problem):
    login_as("admin_a")
    before = counts()
    text = HEADER + "dup@x.edu,Dee Up,student,Center A\n" + line + "\n"
    preview = upload(auth, text)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 400
    assert problem in html.replace("&#39;", "'")
    assert "1 of 2 row(s) have a problem, so nothing can be imported" in html
    assert 'action="/admin/users/import/confirm"' not in html  # no way to confirm
    assert counts() == before


def test_every_bad_row_gets_its_own_error(login_as, auth, world):
    login_as("admin_a")
    text = HEADER + "bad,,wizard,Mars\nok@x.edu,Ok,student,Center A\nr@x.edu,R,tutor,Center B\n"
    html = upload(auth, text).get_data(as_text=True).replace("&#39;", "'")
    for problem in (
        "Enter an e-mail address like",
        "Name is required.",
        "Unknown role 'wizard'",
        "No center is named 'Mars'.",
        "Center B is not one of your centers.",
    ):
        assert problem in html
    assert "2 of 3 row(s) have a problem" in html


def test_tampered_confirm_is_refused(login_as, auth, world):
    login_as("admin_a")
    html = upload(auth, HEADER + "ana@x.edu,Ana,student,Center A\n").get_data(as_text=True)
    fields = confirm_fields(html)
    before = counts()
    evil = HEADER + "boss@x.edu,Boss,account_admin,\n"
    tampered = dict(fields, text=base64.b64encode(evil.encode()).decode())
    response = auth.post("/admin/users/import/confirm", tampered, token_path="/admin/users/import")
    assert response.status_code == 400
    assert "changed after its preview, so nothing was imported" in response.get_data(as_text=True)
    for broken in ({"text": "%%%", "digest": fields["digest"]}, {"text": fields["text"]}, {}):
        response = auth.post(
            "/admin/users/import/confirm", broken, token_path="/admin/users/import"
        )
        assert response.status_code == 400
    assert counts() == before


def test_confirm_checks_every_row_again(login_as, auth, world):
    """A row that went bad between preview and confirm stops the whole import."""
    login_as("admin_a")
    text = HEADER + "ana@x.edu,Ana,student,Center A\nben@x.edu,Ben,tutor,Center A\n"
    fields = confirm_fields(upload(auth, text).get_data(as_text=True))
    make_user("ben@x.edu", "student", [world["b"]], name="Ben Elsewhere")
    before = counts()
    response = auth.post("/admin/users/import/confirm", fields, token_path="/admin/users/import")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "no longer valid, so nothing was imported" in html
    assert "already has an account as Student" in html
    assert counts() == before and User.by_email("ana@x.edu") is None


def test_confirm_is_bound_to_the_admin_who_previewed(app, login_as, auth, world):
    login_as("account_admin")
    html = upload(auth, HEADER + "boss@x.edu,Boss,account_admin,\n").get_data(as_text=True)
    fields = confirm_fields(html)
    auth.logout()
    login_as("admin_a")
    response = auth.post("/admin/users/import/confirm", fields, token_path="/admin/users/import")
    assert response.status_code == 400 and User.by_email("boss@x.edu") is None


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"\xff\xfe\x00garbage", "is not UTF-8 text"),
        (b"email,name\nx@x.edu,X\n", "missing: role, centers"),
        (HEADER.encode(), "a header row but no people"),
        (b"x" * (user_import.MAX_BYTES + 1), "larger than 256 KB"),
        (
            (HEADER + "".join(f"u{i}@x.edu,U{i},student,Center A\n" for i in range(501))).encode(),
            "The file has 501 rows; import at most 500 at a time.",
        ),
    ],
)
def test_files_that_cannot_be_read_get_a_plain_error(login_as, auth, world, data, message):
    login_as("admin_a")
    before = counts()
    response = upload(auth, data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts() == before


def test_no_file_chosen(login_as, auth, world):
    login_as("admin_a")
    response = auth.post("/admin/users/import", {}, token_path="/admin/users/import")
    assert response.status_code == 400 and "Choose a CSV file" in response.get_data(as_text=True)


def test_import_needs_an_admin(login_as, auth, world):
    login_as("tutor_a")
    assert auth.get("/admin/users/import").status_code == 403
    response = auth.post("/admin/users/import/confirm", {"text": "", "digest": ""})
    assert response.status_code == 403


def test_import_cannot_pull_in_another_centers_admin(login_as, auth, world):
    login_as("admin_a")
    before = counts()
    response = upload(auth, HEADER + "admin.b@x.edu,Bea Admin,center_admin,Center A\n")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "admin.b@x.edu is a center administrator of another center" in text
    assert 'name="digest"' not in text
    assert counts() == before
    # a student or tutor of another center can still be added
    ok = upload(auth, HEADER + "tutor.b@x.edu,Tia Tutor,tutor,Center A\n")
    assert ok.status_code == 200
    confirmed = auth.post(
        "/admin/users/import/confirm",
        confirm_fields(ok.get_data(as_text=True)),
        token_path="/admin/users/import",
    )
    assert confirmed.status_code == 303
    assert Membership.select().where(Membership.user == world["tutor_b"].id).count() == 2


def test_an_account_admin_may_import_a_center_admin_into_another_center(login_as, auth, world):
    login_as("account_admin")
    ok = upload(auth, HEADER + "admin.b@x.edu,Bea Admin,center_admin,Center A\n")
    assert ok.status_code == 200
    fields = confirm_fields(ok.get_data(as_text=True))
    response = auth.post("/admin/users/import/confirm", fields, token_path="/admin/users/import")
    assert response.status_code == 303
    assert Membership.select().where(Membership.user == world["admin_b"].id).count() == 2


@pytest.mark.parametrize(
    "digest", ["é", "é" * 64, "A" * 64, "0" * 63, "0" * 65, " " + "0" * 63, "g" * 64]
)
def test_confirm_with_a_malformed_digest_is_a_plain_400(login_as, auth, world, digest):
    login_as("admin_a")
    before = counts()
    good = base64.b64encode(HEADER.encode() + b"ana@x.edu,Ana,student,Center A\n").decode()
    for text in ("é", good):
        response = auth.post(
            "/admin/users/import/confirm",
            {"text": text, "digest": digest},
            token_path="/admin/users/import",
        )
        assert response.status_code == 400
        assert "changed after its preview, so nothing was imported" in response.get_data(
            as_text=True
        )
    assert counts() == before


def test_preview_cells_are_labelled_with_their_column_heading(login_as, auth, world):
    login_as("admin_a")
    html = upload(auth, HEADER + "ana@x.edu,Ana,student,Center A\n").get_data(as_text=True)
    headings = re.findall(r"<th>([^<]*)</th>", html)
    assert headings == ["Line", "E-mail", "Name", "Role", "Centers", "Check"]
    row = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    labels = re.findall(r'<td data-label="([^"]*)"', row)
    assert labels == headings
    assert row.count("<td") == len(headings)  # no cell without its label
