"""The e-mails that carry a password link: "Forgot password" and a new user's invitation.

The link is written when the message is sent (the token is recomputed from the link's
nonce, see ``auth.password_links``); a link already used, expired or closed is not sent.
What the outbox keeps of a sent message has the token hidden (``messages.render``).
"""

from flask import render_template

from ..models import utcnow
from .errors import Skip
from .links import external


def _link(app, row):
    from ..auth import password_links  # it queues through the outbox, which imports this

    link = password_links.link_of(row)
    if link is None:
        raise Skip("the password link no longer exists")
    if link.used_at is not None or link.expires_at <= utcnow():
        raise Skip("the password link was used or has expired")
    token = password_links.token_for(app.config, link.nonce)
    return link, external(app, "auth.set_password", token=token)


def password_reset(app, row, recipient, settings):
    _link_row, url = _link(app, row)
    ctx = {"recipient": recipient, "url": url, "login": external(app, "auth.login")}
    subject = "Set a new password for the Virtual Meetings Portal"
    return subject, render_template("mail/password_reset.txt", **ctx), None, None


def invitation(app, row, recipient, settings):
    _link_row, url = _link(app, row)
    centers = [c.name for c in recipient.centers()]
    ctx = {
        "recipient": recipient,
        "url": url,
        "centers": centers,
        "inviter": row.actor.name if row.actor_id else None,
        "login": external(app, "auth.login"),
    }
    subject = "You are invited to the Virtual Meetings Portal"
    return subject, render_template("mail/invitation.txt", **ctx), None, None


RENDERERS = {"password_reset": password_reset, "invitation": invitation}
PRIVATE_KINDS = frozenset(RENDERERS)
