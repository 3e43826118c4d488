"""As deployed: an administrator invites a new user, who follows the e-mailed link, chooses a
password and logs in. The mail goes out through the job consumer over SMTP (MAIL_URL)."""

import re
import time

import pytest

from e2e.browser import log_in
from portal.models import User

pytestmark = pytest.mark.browser


def wait_for_mail(smtp, address, deadline_seconds=60):
    """The first message for address (the job consumer sends it; this only waits for it)."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        found = smtp.inbox.to(address)
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no e-mail for {address} arrived")


def test_invited_user_sets_a_password_and_logs_in(deployed, new_page, world):
    center = world["a"]
    admin = new_page()
    log_in(admin, deployed.url, world["admin_a"].email)
    page = admin.page
    page.goto(f"{deployed.url}/admin/centers/{center.id}/users")
    form = page.locator("#add-user")
    form.locator("input[name=name]").fill("Ivy Invited")
    form.locator("input[name=email]").fill("ivy@x.edu")
    form.locator("select[name=role]").select_option("tutor")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    assert "An invitation to choose a password is on its way to ivy@x.edu" in page.inner_text(
        "#messages"
    )
    assert "Ivy Invited" in page.inner_text("table.users")
    admin.assert_clean()

    mail = wait_for_mail(deployed.smtp, "ivy@x.edu")
    assert mail.subject == "You are invited to the Virtual Meetings Portal"
    link = re.search(re.escape(deployed.url) + r"/password/set\?token=[A-Za-z0-9_-]+", mail.text)
    assert link, mail.text

    ivy = new_page()
    ivy.page.goto(link.group(0))
    assert "Choose your password" in ivy.page.inner_text("h1")
    ivy.page.fill("input[name=password]", "ivy-chooses-this-1")
    ivy.page.fill("input[name=confirm]", "ivy-chooses-this-1")
    ivy.page.click("button:has-text('Set password')")
    ivy.page.wait_for_url(f"{deployed.url}/login")
    assert "Your password is set" in ivy.page.inner_text("#messages")

    ivy.page.fill("input[name=email]", "ivy@x.edu")
    ivy.page.fill("input[name=password]", "ivy-chooses-this-1")
    ivy.page.click("button[type=submit]")
    ivy.page.wait_for_url(f"{deployed.url}/tutor/preferences")
    assert "Ivy Invited" in ivy.page.inner_text("summary")
    ivy.assert_clean()

    # the link worked once
    ivy.page.goto(link.group(0))
    assert "expired or was already used" in ivy.page.inner_text("body")
    assert User.by_email("ivy@x.edu").last_login_at is not None
    assert link.group(0) not in deployed.log_text("portal") + deployed.log_text("jobs")
