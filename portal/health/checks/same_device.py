"""same_device: a student's Join came from the browser the tutor pressed Start on.

Testing as tutor and student on one device looks like "students can't get in". One
SQL query joins recent JoinEvents to the tutor's Start devices (``TutorDevice``,
recorded by ``portal.health.devices`` when the tutor presses Start).
"""

from peewee import fn

from ...models import JoinEvent, TutorDevice, User
from ..observations import Observation, tutor_key
from ._common import plural

NAME = "same_device"
TITLE = "Tutor and student on one device"
SEVERITY = "info"
MEANS = (
    "A student's Join came from the same browser the tutor used to start their Daily "
    "Session. Zoom lets one device be in a meeting once, so a tutor testing as a student "
    "(or sharing a computer) seems to be unable to get in."
)
STEPS = (
    "Use two devices to test: the tutor starts the session on one, the student joins from another.",
    "If a student really shares the tutor's computer, they join from their own device.",
)
FIXES = ("reverify",)
RESOLVED = "No recent Join from the tutor's device"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


def run(ctx):
    """Tutors in scope with recent Joins from a device they started a session on."""
    query = (
        JoinEvent.select(
            JoinEvent.tutor,
            User.name,
            fn.COUNT(JoinEvent.id),
            fn.MAX(JoinEvent.created_at),
            fn.MIN(JoinEvent.center),
            fn.MIN(JoinEvent.device_id),
        )
        .join(
            TutorDevice,
            on=(
                (TutorDevice.tutor == JoinEvent.tutor)
                & (TutorDevice.device_id == JoinEvent.device_id)
            ),
        )
        .join(User, on=(JoinEvent.tutor == User.id))
        .where(JoinEvent.created_at >= ctx.now - ctx.recent)
        .group_by(JoinEvent.tutor, User.name)
    )
    found = []
    for tutor_id, name, count, last, center_id, device in ctx.scoped(
        query, JoinEvent.tutor
    ).tuples():
        detail = (
            f"{plural(count, 'Join')} for {name} came from the browser {name} pressed Start "
            "on. Zoom admits one device once: test with two devices."
        )
        evidence = {"joins": count, "last_utc": last, "device": (device or "")[:8]}
        found.append(
            Observation(NAME, key(tutor_id), SEVERITY, center_id, tutor_id, detail, evidence)
        )
    return found
