"""Managing people: who may edit whom, editing, (de)activating, adding to a center.

Rights (issue 14): an account administrator may do anything. A center administrator
manages only members of their own centers, assigns only roles up to their own
(student, tutor, center_admin) and only their own centers, and never edits or
deactivates an account administrator. A center administrator changes the e-mail or
role of a user, or (de)activates them, only when every center of that user is one of
theirs (those change the account everywhere, and a new e-mail lets whoever holds it
set the password); adding an existing student or tutor to their center is fine, but
pulling in a center administrator of another center is not. Nobody deactivates
themselves or changes their own role, and the last active account administrator
stays one. Every refusal is a ``NotAllowed`` (a 403 with its sentence) and changes
nothing.
"""

from flask import current_app

from . import audit
from .accounts import end_all_sessions
from .auth import password_links
from .db import write_tx
from .inputs import id_field
from .models import ROLE_LABELS, ROLES, Center, Membership, PasswordToken, User
from .validation import ValidationError, clean_email, clean_role, clean_text

RANK = {role: rank for rank, role in enumerate(ROLES)}
ASSIGNABLE_ROLES = {
    User.STUDENT: (),
    User.TUTOR: (),
    User.CENTER_ADMIN: (User.STUDENT, User.TUTOR, User.CENTER_ADMIN),
    User.ACCOUNT_ADMIN: ROLES,
}


class NotAllowed(Exception):
    """The acting administrator may not do this; the message says why."""


def assignable_roles(actor):
    """The roles actor may give."""
    return ASSIGNABLE_ROLES.get(actor.role, ())


def own_centers(actor):
    """The centers actor may add people to (all of them for an account admin), by name."""
    return list(actor.centers())


def visible(actor, user):
    """True if actor may see user's page: account admin, or a shared center."""
    if actor.role == User.ACCOUNT_ADMIN:
        return True
    mine = Membership.select(Membership.center).where(Membership.user == actor.id)
    return (
        Membership.select().where(Membership.user == user.id, Membership.center.in_(mine)).exists()
    )


def check_may_manage(actor, user):
    """NotAllowed unless actor may change user at all."""
    if actor.role not in (User.CENTER_ADMIN, User.ACCOUNT_ADMIN) or not visible(actor, user):
        raise NotAllowed("You can manage only the people of your own centers.")
    if actor.role != User.ACCOUNT_ADMIN and user.role == User.ACCOUNT_ADMIN:
        raise NotAllowed("Only an account administrator can change an account administrator.")


def manages_all_centers(actor, user):
    """True if every center of user is one actor manages (always, for an account admin)."""
    if actor.role == User.ACCOUNT_ADMIN:
        return True
    mine = [c.id for c in own_centers(actor)]
    return (
        not Membership.select()
        .where(Membership.user == user.id, Membership.center.not_in(mine))
        .exists()
    )


def check_may_change_account(actor, user, what):
    """NotAllowed unless actor may change user's account everywhere (what: the change)."""
    if not manages_all_centers(actor, user):
        raise NotAllowed(
            f"{user.name} is also in a center you do not manage, so you cannot {what}. "
            "An account administrator can do it."
        )


def _check_role(actor, role):
    if role not in assignable_roles(actor):
        raise NotAllowed(
            "You can give only these roles: "
            + ", ".join(ROLE_LABELS[r] for r in assignable_roles(actor))
            + ". Ask an account administrator for a higher one."
        )


def _other_account_admins(user):
    return (
        User.select()
        .where(User.role == User.ACCOUNT_ADMIN, User.is_enabled(), User.id != user.id)
        .exists()
    )


def split_centers(actor, user):
    """(centers actor manages that user is in, user's other centers) for the edit page."""
    theirs = list(Center.of(user))
    if actor.role == User.ACCOUNT_ADMIN:
        return theirs, []
    mine = {c.id for c in own_centers(actor)}
    return [c for c in theirs if c.id in mine], [c for c in theirs if c.id not in mine]


def update_user(actor, user, *, name, email, role, center_ids, config=None):
    """Edit name, e-mail, role and (actor's) centers; returns the changed field names.

    Memberships in centers actor does not manage are kept as they are. A role or
    e-mail change ends the user's sessions (they log in again with the new rights).
    An e-mail change closes the user's open password links; if they never chose a
    password, a fresh invitation goes to the new address ("invited" among the changes;
    wake the outbox after). config is the app's (default: the current app's).
    """
    check_may_manage(actor, user)
    name = clean_text(name, "name", "Name")
    email = clean_email(email)
    role = clean_role(role)
    if role != user.role:
        if actor.id == user.id:
            raise NotAllowed("You cannot change your own role. Ask another administrator.")
        _check_role(actor, role)
        check_may_change_account(actor, user, "change their role")
    if email != user.email:
        check_may_change_account(actor, user, "change their e-mail")
    manageable = {c.id: c for c in own_centers(actor)}
    wanted = set()
    for raw in center_ids:
        center_id = id_field(raw) if isinstance(raw, str) else raw
        if not isinstance(center_id, int):
            raise ValidationError("Choose centers from the list.", "centers")
        if center_id not in manageable:
            raise NotAllowed("You can add people only to your own centers.")
        wanted.add(center_id)
    with write_tx():
        fresh = User.get_by_id(user.id)
        current = {m.center_id for m in Membership.select().where(Membership.user == user.id)}
        kept_elsewhere = current - set(manageable)
        final = wanted | kept_elsewhere
        if role != User.ACCOUNT_ADMIN and not final:
            raise ValidationError("Choose at least one center for this user.", "centers")
        if (
            fresh.role == User.ACCOUNT_ADMIN
            and role != User.ACCOUNT_ADMIN
            and fresh.active
            and not _other_account_admins(fresh)
        ):
            raise NotAllowed("This is the last account administrator: make someone else one first.")
        if (
            email != fresh.email
            and User.select().where(User.email == email, User.id != user.id).exists()
        ):
            raise ValidationError(f"Another user already has the e-mail {email}.", "email")
        before = {"name": fresh.name, "email": fresh.email, "role": fresh.role}
        after = {"name": name, "email": email, "role": role}
        changed = {k: v for k, v in after.items() if before[k] != v}
        if changed:
            User.update(**changed).where(User.id == user.id).execute()
        added = final - current
        removed = current - final
        if removed:
            Membership.delete().where(
                Membership.user == user.id, Membership.center.in_(list(removed))
            ).execute()
        for center_id in sorted(added):
            Membership.create(user=user.id, center=center_id)
        names = {c.id: c.name for c in Center.select().where(Center.id.in_(list(current | final)))}
        if added or removed:
            changed["centers"] = sorted(names[c] for c in final)
            before["centers"] = sorted(names[c] for c in current)
        if changed:
            audit.record(
                actor,
                "user.update",
                center=_audit_center(actor, final or current),
                target=fresh,
                before={k: before[k] for k in changed},
                after=changed,
            )
        if "role" in changed or "email" in changed:
            end_all_sessions(fresh)
        if "email" in changed:
            # a link mailed to the old address must not open the account any more
            password_links.cancel_open(fresh)
            if fresh.password_hash == password_links.UNUSABLE_PASSWORD and fresh.active:
                fresh.email = email
                invite_center = _audit_center(actor, final or current)
                password_links.issue(
                    config if config is not None else current_app.config,
                    fresh,
                    PasswordToken.INVITE,
                    actor=actor,
                    center=Center.get_or_none(Center.id == invite_center),
                )
                changed["invited"] = True
    return list(changed)


def _audit_center(actor, center_ids):
    """The center an entry about a user is filed under: one actor manages, if any."""
    mine = {c.id for c in own_centers(actor)}
    for center_id in sorted(center_ids):
        if center_id in mine:
            return center_id
    return None


def set_active(actor, user, active):
    """Deactivate (sessions end at once) or reactivate a user; True if it changed."""
    check_may_manage(actor, user)
    if not active and actor.id == user.id:
        raise NotAllowed("You cannot deactivate yourself. Ask another administrator.")
    check_may_change_account(actor, user, "deactivate them" if not active else "reactivate them")
    with write_tx():
        fresh = User.get_by_id(user.id)
        if bool(fresh.active) == bool(active):
            return False
        if not active and fresh.role == User.ACCOUNT_ADMIN and not _other_account_admins(fresh):
            raise NotAllowed("This is the last account administrator: make someone else one first.")
        User.update(active=bool(active)).where(User.id == user.id).execute()
        if not active:
            end_all_sessions(fresh)  # every session ends now, not at its next expiry
            password_links.cancel_open(fresh)  # no old link works after a reactivation
        centers = [m.center_id for m in Membership.select().where(Membership.user == user.id)]
        audit.record(
            actor,
            "user.reactivate" if active else "user.deactivate",
            center=_audit_center(actor, centers),
            target=fresh,
            before={"active": not active},
            after={"active": bool(active)},
        )
    user.active = bool(active)
    return True


def add_existing(actor, center, email):
    """Add an existing user (by e-mail) to center; returns the user, or None if no such user.

    ValidationError when they are already in it; NotAllowed outside actor's rights.
    """
    user = User.by_email(email)
    if user is None:
        return None
    if user.role == User.ACCOUNT_ADMIN:
        raise ValidationError(
            f"{user.name} is an account administrator and already sees every center.", "email"
        )
    if actor.role != User.ACCOUNT_ADMIN:
        _check_role(actor, user.role)
        if center.id not in {c.id for c in own_centers(actor)}:
            raise NotAllowed("You can add people only to your own centers.")
        if user.role == User.CENTER_ADMIN and not manages_all_centers(actor, user):
            raise NotAllowed(
                f"{user.name} is a center administrator of another center, so you cannot "
                "add them to yours. An account administrator can do it."
            )
    with write_tx():
        if (
            Membership.select()
            .where(Membership.user == user.id, Membership.center == center.id)
            .exists()
        ):
            raise ValidationError(
                f"A user with e-mail {user.email} already exists and is already in {center.name}.",
                "email",
            )
        Membership.create(user=user.id, center=center.id)
        audit.record(
            actor, "user.add_center", center=center, target=user, after={"center": center.name}
        )
    return user
