"""Account and center services: used by the admin pages, the login view and the CLI."""

import datetime

from peewee import IntegrityError

from . import audit
from .auth import password_links, throttle
from .auth.passwords import (
    burn_time,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from .db import database, write_tx
from .models import Center, Membership, PasswordToken, User, utcnow
from .sessions import end_user_sessions
from .validation import (
    ValidationError,
    clean_email,
    clean_hhmm,
    clean_role,
    clean_text,
    clean_timezone,
    clean_url,
)

LoginThrottled = throttle.LoginThrottled  # too many failed logins from this client


# --- centers -----------------------------------------------------------------


def create_center(name, timezone="America/New_York", actor=None):
    """Create a center; ValidationError on a bad name, duplicate or time zone."""
    name = clean_text(name, "name", "Center name")
    timezone = clean_timezone(timezone)
    if Center.select().where(Center.name == name).exists():
        raise ValidationError(f"A center named {name!r} already exists.", "name")
    with write_tx():
        center = Center.create(name=name, timezone=timezone)
        audit.record(actor, "center.create", center=center, target=center, after={"name": name})
    return center


def center_by_name(name):
    """The center with this exact name, or ValidationError."""
    center = Center.get_or_none(Center.name == (name or "").strip())
    if center is None:
        raise ValidationError(f"No center is named {name!r}.", "center")
    return center


SETTINGS_FIELDS = (
    "virtual_meetings_enabled",
    "waiting_room_default",
    "allow_connect_links",
    "opens_at",
    "closes_at",
    "waiting_room_limit_minutes",
    "slot_minutes",
    "timezone",
)
SLOT_CHOICES = (15, 20, 30, 45, 60)


def center_settings(center):
    """The audited settings of a center as a plain dict."""
    return {field: getattr(center, field) for field in SETTINGS_FIELDS}


def _slot_minutes(value):
    try:
        minutes = int(str(value).strip()[:8])
    except ValueError:
        minutes = None
    if minutes not in SLOT_CHOICES:
        choices = ", ".join(str(m) for m in SLOT_CHOICES)
        raise ValidationError(
            f"Appointment slots must be one of {choices} minutes long.", "slot_minutes"
        )
    return minutes


def update_center_settings(center, actor, **changes):
    """Validate and apply setting changes; audit the before/after. Returns the changed keys."""
    clean = {}
    for key, value in changes.items():
        if key not in SETTINGS_FIELDS:
            raise ValidationError(f"Unknown setting {key!r}.", key)
        if key in ("virtual_meetings_enabled", "waiting_room_default", "allow_connect_links"):
            clean[key] = bool(value)
        elif key == "opens_at":
            clean[key] = clean_hhmm(value, key, "Opening time")
        elif key == "closes_at":
            clean[key] = clean_hhmm(value, key, "Closing time")
        elif key == "waiting_room_limit_minutes":
            try:
                minutes = int(str(value).strip())
            except ValueError:
                raise ValidationError(
                    "Waiting-room limit must be a whole number of minutes.", key
                ) from None
            if not 1 <= minutes <= 120:
                raise ValidationError("Waiting-room limit must be between 1 and 120 minutes.", key)
            clean[key] = minutes
        elif key == "slot_minutes":
            clean[key] = _slot_minutes(value)
        elif key == "timezone":
            clean[key] = clean_timezone(value)
    opens = clean.get("opens_at", center.opens_at)
    closes = clean.get("closes_at", center.closes_at)
    if opens >= closes:
        raise ValidationError("The closing time must be after the opening time.", "closes_at")
    with write_tx():
        fresh = Center.get_by_id(center.id)
        before = {k: getattr(fresh, k) for k in clean}
        changed = {k: v for k, v in clean.items() if before[k] != v}
        if changed:
            Center.update(**changed).where(Center.id == center.id).execute()
            audit.record(
                actor,
                "center.settings",
                center=center,
                target=center,
                before={k: before[k] for k in changed},
                after=changed,
            )
    for key, value in clean.items():
        setattr(center, key, value)
    return list(changed)


# --- users -------------------------------------------------------------------


def create_user(
    email, name, role, password, centers=(), actor=None, connect_link=None, invite=None
):
    """Create a user with memberships; ValidationError on any bad field.

    With a password, the user can log in at once. Without one (``password`` empty),
    ``invite`` must be the app's config: the user gets an invitation e-mail with a link
    to choose their password (``auth.password_links``); call ``outbox.wake()`` after.
    """
    email = clean_email(email)
    name = clean_text(name, "name", "Name")
    role = clean_role(role)
    if password or invite is None:
        problem = password_problem(password)
        if problem:
            raise ValidationError(problem, "password")
    connect_link = clean_url(connect_link)
    if User.select().where(User.email == email).exists():
        raise ValidationError(f"A user with e-mail {email} already exists.", "email")
    if role != "account_admin" and not centers:
        raise ValidationError("Choose at least one center for this user.", "center")
    password_hash = hash_password(password) if password else password_links.UNUSABLE_PASSWORD
    try:
        with write_tx():
            user = User.create(
                email=email,
                name=name,
                role=role,
                password_hash=password_hash,
                connect_link=connect_link,
            )
            for center in centers:
                Membership.create(user=user, center=center)
            audit.record(
                actor,
                "user.create",
                center=centers[0] if centers else None,
                target=user,
                after={
                    "email": email,
                    "role": role,
                    "centers": [c.name for c in centers],
                    **({} if password else {"invited": True}),
                },
            )
            if not password:
                password_links.issue(
                    invite,
                    user,
                    PasswordToken.INVITE,
                    actor=actor,
                    center=centers[0] if centers else None,
                )
    except IntegrityError:
        raise ValidationError(f"A user with e-mail {email} already exists.", "email") from None
    return user


def set_connect_link(tutor, url, actor=None, center=None):
    """Set or clear (empty url) a tutor's Connect Link; audited."""
    if tutor.role != User.TUTOR:
        raise ValidationError("Only tutors have a Connect Link.", "connect_link")
    url = clean_url(url)
    with write_tx():
        before = User.select(User.connect_link).where(User.id == tutor.id).scalar()
        if before != url:
            User.update(connect_link=url).where(User.id == tutor.id).execute()
            audit.record(
                actor,
                "user.connect_link",
                center=center,
                target=tutor,
                before={"connect_link": before},
                after={"connect_link": url},
            )
    tutor.connect_link = url
    return url


# --- login -------------------------------------------------------------------


def authenticate(email, password, address, config, device_cookie=None):
    """Return (the active user or None, the client key); LoginThrottled when limited.

    Unknown e-mail and wrong password cost the same time and give the same answer.
    The attempt is recorded before the password is checked (portal.auth.throttle).
    """
    email = (email or "").strip().lower()[:254]
    client = throttle.client_key(config, email, address, device_cookie)
    throttle.reserve_attempt(config, email, client)
    if not client.startswith(throttle.DEVICE_PREFIX):
        throttle.slow_down(client, config)
    user = User.get_or_none(User.email == email)
    if user is None or not user.active or user.password_hash == password_links.UNUSABLE_PASSWORD:
        # unknown, deactivated and invited-but-unset accounts cost one hashing too
        burn_time(password or "")
        ok = False
    else:
        ok = verify_password(user.password_hash, password or "")
    if not ok:
        return None, client
    updates = {"last_login_at": utcnow()}
    if needs_rehash(user.password_hash):
        updates["password_hash"] = hash_password(password)
    User.update(**updates).where(User.id == user.id).execute()
    throttle.forget_attempts(email, client)
    return user, client


def end_all_sessions(user):
    """Invalidate every session of the user (bumps session_version)."""
    with database.atomic():
        User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()
        end_user_sessions(user)


def change_password(user, current, new, confirm=None):
    """Change one's own password: the current one first, the same rules as everywhere.

    Ends every session of the user (the caller starts a fresh one for this browser) and
    closes their open password links. ValidationError says what to fix.
    """
    if not verify_password(User.get_by_id(user.id).password_hash, current or ""):
        raise ValidationError("Your current password is not right. Type it again.", "current")
    problem = password_problem(new)
    if problem:
        raise ValidationError(problem, "password")
    if confirm is not None and confirm != new:
        raise ValidationError("The two new passwords are not the same. Type them again.", "confirm")
    password_hash = hash_password(new)
    with write_tx():
        User.update(password_hash=password_hash).where(User.id == user.id).execute()
        password_links.cancel_open(user)
        end_all_sessions(user)
        audit.record(user, "user.password", target=user)
    return User.get_by_id(user.id)


RESET_MAILS_PER_HOUR = 3  # more requests for one account are answered alike, and not sent


def reserve_reset_request(email, address, config):
    """Count a "Forgot password" request like a login attempt; LoginThrottled when over.

    Per e-mail and address, with the login limits, whether or not the e-mail exists.
    """
    email = (email or "").strip().lower()[:254]
    throttle.reserve_attempt(config, ("reset:" + email)[:254], throttle.clean_address(address))


def issue_password_reset(email, config):
    """Queue a reset link when the e-mail names an active user; True if one was queued.

    The caller answers the same either way (and calls this after the answer has gone,
    so the answer takes as long for every e-mail). One account gets at most
    RESET_MAILS_PER_HOUR links an hour, so nobody can flood someone's inbox.
    """
    email = (email or "").strip().lower()[:254]
    user = User.get_or_none(User.email == email)
    if user is None or not user.active:
        return False
    hour_ago = utcnow() - datetime.timedelta(hours=1)
    recent = (
        PasswordToken.select()
        .where(
            PasswordToken.user == user.id,
            PasswordToken.purpose == PasswordToken.RESET,
            PasswordToken.created_at > hour_ago,
        )
        .count()
    )
    if recent >= RESET_MAILS_PER_HOUR:
        return False
    password_links.issue(config, user, PasswordToken.RESET)
    return True
