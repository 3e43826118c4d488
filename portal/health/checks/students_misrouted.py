"""students_misrouted: recent Joins that went to a Connect Link or nowhere.

One SQL query: JoinEvents of the recent window sent elsewhere than the Daily Session,
grouped by tutor, destination and reason; a misroute followed by a Join that reached
the tutor's Daily Session no longer counts (the problem was fixed since).
"""

from peewee import fn

from ...models import JoinEvent, User
from ..observations import Observation, tutor_key
from ._common import plural

NAME = "students_misrouted"
TITLE = "Students sent to the wrong place"
SEVERITY = "warning"
MEANS = (
    "Recently, students who pressed Join for this tutor were sent to a Connect Link or "
    "nowhere instead of the tutor's Daily Session, so they never reached the tutor."
)
STEPS = (
    "Open the tutor's view: the reasons next to each Join say what was wrong.",
    "Fix what the other findings for this tutor point at (connection, Connect Link, "
    "today's session).",
    "Let the students know where to go now; their Join link works again once fixed.",
)
FIXES = ("reverify",)
RESOLVED = "Students reach the Daily Session again"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


ELSEWHERE = ("connect_link", "nowhere")


def run(ctx):
    """Tutors in scope with Joins sent elsewhere in the recent window and none fine since."""
    Later = JoinEvent.alias("later")
    fine_since = Later.select(Later.id).where(
        Later.tutor == JoinEvent.tutor,
        Later.destination == "daily_session",
        Later.created_at > JoinEvent.created_at,
    )
    query = (
        JoinEvent.select(
            JoinEvent.tutor,
            User.name,
            JoinEvent.destination,
            JoinEvent.reason,
            fn.COUNT(JoinEvent.id),
            fn.MAX(JoinEvent.created_at),
            fn.MIN(JoinEvent.center),
        )
        .join(User, on=(JoinEvent.tutor == User.id))
        .where(
            JoinEvent.created_at >= ctx.now - ctx.recent,
            JoinEvent.destination.in_(ELSEWHERE),
            ~fn.EXISTS(fine_since),
        )
        .group_by(JoinEvent.tutor, User.name, JoinEvent.destination, JoinEvent.reason)
    )
    per_tutor = {}
    for tutor_id, name, destination, reason, count, last, center_id in ctx.scoped(
        query, JoinEvent.tutor
    ).tuples():
        entry = per_tutor.setdefault(
            tutor_id, {"name": name, "center": center_id, "count": 0, "last": last, "rows": []}
        )
        entry["count"] += count
        entry["last"] = max(entry["last"], last)
        entry["center"] = entry["center"] or center_id
        entry["rows"].append({"destination": destination, "reason": reason, "joins": count})
    found = []
    for tutor_id, entry in per_tutor.items():
        rows = sorted(entry["rows"], key=lambda r: -r["joins"])
        why = "; ".join(JoinEvent.REASONS.get(r["reason"], r["reason"] or "?") for r in rows[:3])
        hours = int(ctx.recent.total_seconds() // 3600)
        detail = (
            f"In the last {hours} hours {plural(entry['count'], 'Join')} for {entry['name']} "
            f"did not reach their Daily Session ({why})."
        )
        evidence = {"joins": entry["count"], "last_utc": entry["last"], "by_reason": rows}
        found.append(
            Observation(NAME, key(tutor_id), SEVERITY, entry["center"], tutor_id, detail, evidence)
        )
    return found
