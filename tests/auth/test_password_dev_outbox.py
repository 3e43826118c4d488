"""In development (no MAIL_URL) the password link is on the development outbox page."""

import re

from support import csrf_token

from portal.models import OutboxMessage
from portal.notifications import outbox


def test_reset_link_shows_in_the_development_outbox(app, client, world):
    token = csrf_token(client, "/password/forgot")
    answer = client.post(
        "/password/forgot", data={"email": world["tutor_a"].email, "csrf_token": token}
    )
    answer.close()  # the link is made once the answer is sent
    assert outbox.deliver_due(app)["sent"] == 1
    row = OutboxMessage.get()
    assert row.kind == "password_reset" and row.transport == "outbox"
    page = client.get(f"/dev/outbox/{row.id}").get_data(as_text=True)
    link = re.search(r"http://127\.0\.0\.1:5000(/password/set\?token=[A-Za-z0-9_-]+)", page)
    assert link, page
    form = client.get(link.group(1))
    assert form.status_code == 200 and "Set a new password" in form.get_data(as_text=True)
