"""not_connected: online appointments are booked with a tutor who has no Zoom connection.

One SQL query: booked, not yet ended online appointments in Virtual Meetings centers,
grouped by tutor, whose tutor has no current connection (NOT EXISTS).
"""

from peewee import fn

from ... import timefmt
from ...models import Appointment, Center, User, ZoomConnection
from ..observations import Observation, tutor_key
from ._common import plural

NAME = "not_connected"
TITLE = "Not connected, appointments booked"
SEVERITY = "critical"
MEANS = (
    "Virtual Meetings is on for the tutor's center and students have booked online "
    "appointments, but the tutor has not connected a Zoom account. Students are sent to "
    "an old Connect Link if there is one, otherwise nowhere."
)
STEPS = (
    "The tutor opens their name → Preferences → Virtual Meetings.",
    "In Select meeting they choose “Connect to Zoom Account” and press Authorize, signing "
    "in to Zoom with e-mail and password (not Google or Facebook).",
    "Free (Basic) Zoom accounts can't be used: a licensed account is needed.",
)
FIXES = ("notify_reconnect", "reverify")
RESOLVED = "The tutor is connected (or has no online appointments left)"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


def run(ctx):
    """Tutors in scope with booked online appointments ahead and no current connection."""
    connected = ZoomConnection.select(ZoomConnection.id).where(
        ZoomConnection.tutor == Appointment.tutor, ZoomConnection.is_current()
    )
    query = (
        Appointment.select(
            Appointment.tutor,
            User.name,
            User.connect_link,
            fn.COUNT(Appointment.id),
            fn.MIN(Appointment.start_at),
            fn.MIN(Appointment.center),
        )
        .join(User, on=(Appointment.tutor == User.id))
        .switch(Appointment)
        .join(Center, on=(Appointment.center == Center.id))
        .where(
            Appointment.kind == Appointment.ONLINE,
            Appointment.status == Appointment.BOOKED,
            Appointment.end_at >= ctx.now,
            Center.is_virtual(),
            User.is_enabled(),
            ~fn.EXISTS(connected),
        )
        .group_by(Appointment.tutor, User.name, User.connect_link)
    )
    found = []
    for tutor_id, name, link, count, first, center_id in ctx.scoped(
        query, Appointment.tutor
    ).tuples():
        where = "they are sent to the old Connect Link instead" if link else "they are sent nowhere"
        detail = (
            f"{name} has {plural(count, 'online appointment')} booked but no Zoom connection: "
            f"{where}. The next one starts {_starts(first, center_id)}."
        )
        evidence = {"appointments": count, "next_start_utc": first, "connect_link": link}
        found.append(
            Observation(NAME, key(tutor_id), SEVERITY, center_id, tutor_id, detail, evidence)
        )
    return found


def _starts(first, center_id):
    """When the next appointment starts, in its center's zone (stored text: no viewer)."""
    center = Center.get_or_none(Center.id == center_id) if center_id else None
    return timefmt.when(first, center.timezone if center else None, viewer=None)
