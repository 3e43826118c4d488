"""Single-use links to set a password: "Forgot password" (1 hour) and invitations (7 days).

A link carries a token: the HMAC-SHA256 of a random nonce under SECRET_KEY. The
database keeps the nonce and the token's SHA-256 (the lookup key), never the token,
so a copy of the database alone opens no account; the e-mail is written when it is
sent by recomputing the token from the nonce. Using a link marks it used with one
conditional UPDATE (used, expired and raced links all fail the same way), sets the
password, ends every session of the user and cancels their other open links.
The token travels as ``?token=``, which the log redaction hides.
"""

import base64
import datetime
import hashlib
import hmac
import secrets

from ..db import write_tx
from ..models import OutboxMessage, PasswordToken, User, utcnow
from ..notifications import outbox
from .passwords import hash_password, password_problem

LIFETIMES = {
    PasswordToken.RESET: datetime.timedelta(hours=1),
    PasswordToken.INVITE: datetime.timedelta(days=7),
}
MAIL_KINDS = {PasswordToken.RESET: "password_reset", PasswordToken.INVITE: "invitation"}
MAX_TOKEN = 100  # longer input is not a token of ours
# A password no login can match: argon2 refuses to verify it (an invited user's, until set)
UNUSABLE_PASSWORD = "!unset"


class LinkInvalid(Exception):
    """The link is unknown, expired, used, or its user is deactivated."""


def token_for(config, nonce):
    """The token a nonce stands for under this app's SECRET_KEY."""
    key = str(config["SECRET_KEY"]).encode()
    digest = hmac.new(key, b"password-link:" + nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def issue(config, user, purpose, actor=None, center=None, now=None):
    """Make a link for user and queue its e-mail; call inside the caller's transaction or alone.

    Returns the PasswordToken row. The e-mail is delivered by the outbox (wake it after
    the transaction commits).
    """
    now = now or utcnow()
    nonce = secrets.token_urlsafe(24)
    with write_tx():
        row = PasswordToken.create(
            user=user,
            purpose=purpose,
            token_hash=_hash(token_for(config, nonce)),
            nonce=nonce,
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
        )
        outbox.queue(
            [
                {
                    "key": mail_key(row),
                    "kind": MAIL_KINDS[purpose],
                    "recipient": user.id,
                    "actor": actor.id if actor is not None else None,
                    # the center whose admins see the message on their mail page
                    "center": center.id if center is not None else None,
                }
            ]
        )
    return row


def mail_key(row):
    """The outbox key of a link's e-mail; ``link_of`` reads it back."""
    return f"password_token:{row.id}"


def link_of(message):
    """The PasswordToken an outbox row's e-mail carries, or None."""
    prefix, _, number = (message.key or "").partition(":")
    if prefix != "password_token" or not number.isdigit():
        return None
    return PasswordToken.get_or_none(PasswordToken.id == int(number))


def find(token, now=None):
    """The open link (row, user) for a token; LinkInvalid otherwise."""
    now = now or utcnow()
    if not token or len(token) > MAX_TOKEN:
        raise LinkInvalid()
    row = PasswordToken.get_or_none(PasswordToken.token_hash == _hash(token))
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise LinkInvalid()
    user = User.get_or_none(User.id == row.user_id)
    if user is None or not user.active:
        raise LinkInvalid()
    return row, user


def use(token, password, now=None):
    """Set the password through a link, once; returns the user.

    ValidationError-like: returns (None, problem) when the password is not acceptable
    (the link stays usable); raises LinkInvalid when the link cannot be used.
    """
    from ..accounts import end_all_sessions  # accounts imports this module

    now = now or utcnow()
    row, user = find(token, now)
    problem = password_problem(password)
    if problem:
        return None, problem
    password_hash = hash_password(password)
    with write_tx():
        taken = (
            PasswordToken.update(used_at=now)
            .where(
                PasswordToken.id == row.id,
                PasswordToken.used_at.is_null(),
                PasswordToken.expires_at > now,
            )
            .execute()
        )
        if taken != 1:
            raise LinkInvalid()
        User.update(password_hash=password_hash).where(User.id == user.id).execute()
        cancel_open(user, now)
        end_all_sessions(user)
    return User.get_by_id(user.id), None


def cancel_open(user, now=None):
    """Close every open link of the user (after a password is set another way)."""
    now = now or utcnow()
    PasswordToken.update(used_at=now).where(
        PasswordToken.user == user.id, PasswordToken.used_at.is_null()
    ).execute()
    OutboxMessage.update(status=OutboxMessage.SKIPPED, last_error="the link was closed").where(
        OutboxMessage.recipient == user.id,
        OutboxMessage.kind.in_(list(MAIL_KINDS.values())),
        OutboxMessage.status == OutboxMessage.QUEUED,
    ).execute()


def purge_old(keep=datetime.timedelta(days=30)):
    """Delete links that expired long ago; returns how many."""
    return PasswordToken.delete().where(PasswordToken.expires_at < utcnow() - keep).execute()
