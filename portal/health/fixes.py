"""One-click fixes: each one audited, and the tutor re-checked right after.

The caller (the admin view) has already found the finding inside the admin's
centers and checked the fix applies to its check. A fix returns the words to show;
``FixError`` carries the words when nothing could be done (nothing was changed).

- ``clear_connect_link`` / ``undo_clear_connect_link``: empty the Connect Link, or put
  the cleared value back (only while the field is still empty);
- ``keep_authorization``: of the tutors sharing one Zoom account, keep it for the one
  the admin picked and disconnect the others the admin manages. When the kept tutor
  uses the same Zoom user, the others are ended locally without revoking at Zoom:
  a revoke would uninstall the app for that Zoom user and cut the kept tutor off too;
- ``reverify``: the tutor's checks now (Zoom and database);
- ``recreate_session``: delete today's meeting at Zoom if it still exists, mark the
  row ``missing`` and let ``daily.ensure_daily_session`` claim it and create a new
  meeting, which rewrites every stored identifier (number, uuid, host, join URL);
- ``notify_reconnect``: the "please reconnect" notice on the tutor's panel.
"""

from .. import audit, daily
from ..connections import disconnect
from ..db import retry_locked, write_tx
from ..models import DailySession, Finding, User, ZoomConnection, utcnow
from ..zoom.errors import ZoomError, ZoomNotFound, ZoomPermissionError, ZoomScopeError
from ..zoom.wiring import gateway
from . import notices, scanner

UNDO = "undo_clear_connect_link"


class FixError(Exception):
    """The fix could not be applied; the message says why and what to do."""


def _audit(actor, action, finding, before=None, after=None, target=None):
    audit.record(
        actor,
        action,
        center=finding.center_id,
        target=target or finding.tutor,
        before=before,
        after=dict(after or {}, finding=finding.id, check=finding.check),
    )


def recheck(app, tutor_ids):
    """Re-run every check for these tutors (scoped scan, no snapshot)."""
    ids = [t for t in tutor_ids if t is not None]
    if ids:
        scanner.run_scan(app, tutor_ids=ids, snapshot=False)


def still_open(finding):
    """The open finding with this finding's key (the same one, or a new one), or None."""
    return Finding.open_for(finding.key)


def _outcome(finding, fixed, remains):
    return fixed if still_open(finding) is None else remains


def _tutor(finding):
    if finding.tutor_id is None:
        raise FixError("This finding is not about one tutor; there is nothing to fix here.")
    return User.get_by_id(finding.tutor_id)


def reverify(app, finding, actor):
    """Check the tutor again now."""
    tutor = _tutor(finding)
    recheck(app, [tutor.id])
    open_now = still_open(finding)
    _audit(actor, "health.reverify", finding, after={"still_open": open_now is not None})
    if open_now is None:
        return f"Checked {tutor.name} again: the problem is gone."
    return f"Checked {tutor.name} again: the problem is still there ({open_now.detail})"


def clear_connect_link(app, finding, actor):
    """Empty the tutor's Connect Link (Undo puts it back)."""
    tutor = _tutor(finding)

    def write():
        with write_tx():
            before = User.select(User.connect_link).where(User.id == tutor.id).scalar()
            if before:
                User.update(connect_link=None).where(User.id == tutor.id).execute()
            return before

    before = retry_locked(write)
    if not before:
        raise FixError(f"{tutor.name}'s Connect Link is already empty.")
    _audit(
        actor,
        "health.clear_connect_link",
        finding,
        before={"connect_link": before},
        after={"connect_link": None},
    )
    recheck(app, [tutor.id])
    return _outcome(
        finding,
        f"Cleared {tutor.name}'s Connect Link. Undo puts it back.",
        f"Cleared {tutor.name}'s Connect Link, but the check still reports a problem.",
    )


def undo_clear_connect_link(app, finding, actor):
    """Put back the Connect Link a fix cleared, if nobody set another since."""
    tutor = _tutor(finding)
    previous = (finding.evidence or {}).get("connect_link")
    if not previous:
        raise FixError("There is no cleared Connect Link to put back.")

    def write():
        with write_tx():
            now = User.select(User.connect_link).where(User.id == tutor.id).scalar()
            if now:
                return False
            User.update(connect_link=previous).where(User.id == tutor.id).execute()
            return True

    if not retry_locked(write):
        raise FixError(f"{tutor.name}'s Connect Link was changed since; nothing was undone.")
    _audit(
        actor,
        "health.undo_clear_connect_link",
        finding,
        before={"connect_link": None},
        after={"connect_link": previous},
    )
    recheck(app, [tutor.id])
    return f"Put back {tutor.name}'s Connect Link ({previous})."


def linked_connections(finding):
    """Current connections sharing the finding tutor's Zoom user id or e-mail (oldest first)."""
    mine = ZoomConnection.for_tutor(finding.tutor_id)
    if mine is None:
        return []
    match = ZoomConnection.zoom_user_id == mine.zoom_user_id
    if mine.email:
        match = match | (ZoomConnection.email == mine.email)
    return list(ZoomConnection.current().where(match).order_by(ZoomConnection.connected_at))


def keep_authorization(app, finding, actor, keep, manageable):
    """Keep the Zoom account for tutor ``keep`` (an id, or "other"); disconnect the rest.

    ``manageable`` is the set of tutor ids this admin may change; others stay as they are.
    """
    linked = linked_connections(finding)
    if len({c.tutor_id for c in linked}) < 2:
        raise FixError("This Zoom account is no longer connected to several tutors.")
    keeper = None
    if keep != "other":
        keeper = next((c for c in linked if str(c.tutor_id) == str(keep)), None)
        if keeper is None:
            raise FixError("Choose one of the tutors connected to this Zoom account.")
    losers = [c for c in linked if c is not keeper and c.tutor_id in manageable]
    if keeper is None and len(losers) == len(linked):
        raise FixError("Choose which tutor keeps the Zoom account.")
    if not losers:
        raise FixError("You can't change the other tutors' connections: ask their center.")
    staying = [c for c in linked if c not in losers]
    for conn in losers:
        tutor = User.get_by_id(conn.tutor_id)
        shared = any(c.zoom_user_id == conn.zoom_user_id for c in staying)
        if shared:
            _end_locally(conn)
            revoked = False
        else:
            _row, revoked = disconnect(
                tutor,
                gateway(app).settings,
                gateway(app).http(),
                actor=actor,
                center=finding.center_id,
            )
        _audit(
            actor,
            "health.disconnect_duplicate",
            finding,
            target=tutor,
            before={"tutor": tutor.email, "zoom_email": conn.email},
            after={
                "kept_by": keeper.tutor_id if keeper else "another center's tutor",
                "revoked_at_zoom": revoked,
            },
        )
    recheck(app, [c.tutor_id for c in linked])
    names = ", ".join(User.get_by_id(c.tutor_id).name for c in losers)
    return f"Disconnected the Zoom account from {names}; ask them to connect their own account."


def _end_locally(conn):
    """End a duplicate connection without revoking the Zoom grant it shares."""
    now = utcnow()

    def write():
        with write_tx():
            ZoomConnection.update(
                status=ZoomConnection.REVOKED,
                ended_at=now,
                access_token_enc=None,
                refresh_token_enc=None,
                revoke_pending=False,
                lease_owner=None,
                lease_until=None,
                version=ZoomConnection.version + 1,
                last_error="ended by an administrator: the Zoom account stays with another tutor",
                updated_at=now,
            ).where(ZoomConnection.id == conn.id, ZoomConnection.is_current()).execute()

    retry_locked(write)


def recreate_session(app, finding, actor):
    """Replace today's Daily Session with a new Zoom meeting (claim protocol)."""
    tutor = _tutor(finding)
    center = tutor.home_center()
    if center is None or ZoomConnection.for_tutor(tutor) is None:
        raise FixError(f"{tutor.name} has no Zoom connection in a Virtual Meetings center.")
    session = daily.today_session(tutor, center)
    old = session.zoom_meeting_id if session else None
    deleted, undeletable = None, False
    if (
        session is not None
        and session.status == DailySession.PENDING
        and session.lease_until
        and (session.lease_until > utcnow())
    ):
        raise FixError("Today's Daily Session is being created right now; try again in a minute.")
    if old:
        client = gateway(app)(tutor)
        try:
            deleted = client.delete_meeting(old)
        except (ZoomNotFound, ZoomPermissionError):
            deleted = False  # gone already, or not this Zoom user's meeting to delete
        except ZoomScopeError:
            # The app may not delete meetings (4711): replace it anyway; say to delete it.
            deleted, undeletable = False, True
        except ZoomError as exc:
            raise FixError(
                f"Zoom did not answer when deleting meeting {daily.format_meeting_number(old)} "
                f"({exc}); nothing was changed. Try again in a moment."
            ) from None
        finally:
            client.close()
    if session is not None:
        retry_locked(
            lambda: (
                DailySession.update(
                    status=DailySession.MISSING, last_error="recreated by an administrator"
                )
                .where(DailySession.id == session.id)
                .execute()
            )
        )
    result = daily.ensure_daily_session(
        tutor, gateway(app), center=center, avoid=(old,) if old else ()
    )
    row = result.session
    if result.outcome not in ("created", "adopted") or row is None:
        raise FixError(
            f"Zoom did not create the new Daily Session ({result.error or result.outcome}). "
            "The old one is marked missing; the portal retries when the tutor opens Virtual "
            "Meetings, or try again here in a few minutes."
        )
    _audit(
        actor,
        "health.recreate_session",
        finding,
        before={"meeting_id": old, "deleted_at_zoom": deleted},
        after={"meeting_id": row.zoom_meeting_id, "session": row.id},
    )
    recheck(app, [tutor.id])
    number = daily.format_meeting_number(row.zoom_meeting_id)
    leftover = ""
    if undeletable:
        leftover = (
            f" The old meeting {daily.format_meeting_number(old)} could not be deleted: the "
            "portal's Zoom app lacks the permission to delete meetings. Delete it in Zoom by "
            "hand, so the tutor does not start it by mistake."
        )
    return _outcome(
        finding,
        f"Recreated {tutor.name}'s Daily Session: students are now sent to meeting {number}."
        + leftover,
        f"Recreated {tutor.name}'s Daily Session (meeting {number}), but the check still "
        "reports a difference: see the evidence." + leftover,
    )


def notify_reconnect(app, finding, actor):
    """Show the tutor a "please reconnect" notice on their Virtual Meetings panel."""
    tutor = _tutor(finding)
    notice = notices.send(tutor, finding.check, finding=finding.id, actor=actor)
    _audit(actor, "health.notify_reconnect", finding, after={"notice": notice.id})
    recheck(app, [tutor.id])
    return f"{tutor.name} will see a request to reconnect Zoom on their Virtual Meetings panel."


FIXES = {
    "clear_connect_link": clear_connect_link,
    UNDO: undo_clear_connect_link,
    "keep_authorization": keep_authorization,
    "reverify": reverify,
    "recreate_session": recreate_session,
    "notify_reconnect": notify_reconnect,
}
LABELS = {
    "clear_connect_link": "Clear Connect Link",
    UNDO: "Undo: put the Connect Link back",
    "keep_authorization": "Keep the Zoom account for the chosen tutor",
    "reverify": "Re-verify now",
    "recreate_session": "Recreate today's Daily Session",
    "notify_reconnect": "Send “please reconnect”",
}
