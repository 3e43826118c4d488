"""When a tutor takes appointments at a center: weekly ranges, days off, and the day's windows.

A tutor sets weekly ranges per center (weekday + from/to, several per day) and whole
days off; an admin of the center may set them for the tutor. A tutor with no range
at a center is available during the center's opening hours, so installations that
never set availability keep working. ``windows`` is what booking reads: the naive-UTC
intervals of one center-local date inside both the opening hours and the tutor's
ranges (none on a day off). Times are wall-clock HH:MM in the center's zone and are
converted per date, so a DST change moves the UTC times, never the local ones.
"""

import datetime
import re

from . import audit
from .clock import to_utc
from .db import write_tx
from .models import Availability, DayOff, Membership, User, utcnow
from .validation import ValidationError, clean_day

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–—]\s*(\d{1,2}):(\d{2})\s*$")
MAX_RANGES = 8  # per weekday
MAX_FIELD = 200


NO_HOURS = "no hours"


def _hhmm(hour, minute):
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError
    return f"{hour:02d}:{minute:02d}"


def parse_ranges(text, weekday, center):
    """``"09:00-12:00, 13:00-17:00"`` as [(starts, ends)], inside the center's hours."""
    day = WEEKDAYS[weekday]
    raw = text.strip() if isinstance(text, str) else ""
    if len(raw) > MAX_FIELD:
        raise ValidationError(f"{day}: write at most {MAX_RANGES} ranges.", f"day{weekday}")
    ranges = []
    for part in filter(None, (p.strip() for p in raw.replace(";", ",").split(","))):
        match = _RANGE.match(part)
        try:
            if match is None:
                raise ValueError
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            starts, ends = _hhmm(h1, m1), _hhmm(h2, m2)
        except ValueError:
            raise ValidationError(
                f"{day}: {part[:40]!r} is not a time range; write it like 09:00-12:00.",
                f"day{weekday}",
            ) from None
        if starts >= ends:
            raise ValidationError(
                f"{day}: {starts}–{ends} ends before it starts; write it like 09:00-12:00.",
                f"day{weekday}",
            )
        if starts < center.opens_at or ends > center.closes_at:
            raise ValidationError(
                f"{day}: {starts}–{ends} is outside {center.name}'s hours "
                f"({center.opens_at}–{center.closes_at}); choose times inside them.",
                f"day{weekday}",
            )
        ranges.append((starts, ends))
    if len(ranges) > MAX_RANGES:
        raise ValidationError(f"{day}: write at most {MAX_RANGES} ranges.", f"day{weekday}")
    ranges.sort()
    for (_s1, e1), (s2, _e2) in zip(ranges, ranges[1:], strict=False):
        if s2 < e1:
            raise ValidationError(
                f"{day}: the ranges overlap; write each time once.", f"day{weekday}"
            )
    return ranges


def check_tutor(tutor, center):
    """ValidationError unless ``tutor`` is an active tutor of ``center``."""
    member = (
        Membership.select()
        .where(Membership.user == tutor.id, Membership.center == center.id)
        .exists()
    )
    if tutor.role != User.TUTOR or not member:
        raise ValidationError(f"{tutor.name} is not a tutor of {center.name}.", "tutor")


def weekly(tutor, center):
    """{weekday: [(starts, ends), …]} of the tutor's ranges at the center (empty = none set)."""
    rows = (
        Availability.select()
        .where(Availability.tutor == tutor.id, Availability.center == center.id)
        .order_by(Availability.weekday, Availability.starts)
    )
    result = {}
    for row in rows:
        result.setdefault(row.weekday, []).append((row.starts, row.ends))
    return result


def as_text(ranges):
    """The ranges of one weekday the way the form shows them."""
    return ", ".join(f"{s}-{e}" for s, e in ranges)


def set_weekly(tutor, center, texts, actor=None):
    """Replace the tutor's weekly ranges at the center with ``texts`` (weekday → text).

    Every weekday empty clears them: the tutor is then available during opening hours.
    Validates everything first, so a bad field changes nothing. Returns the new ranges.
    """
    check_tutor(tutor, center)
    new = {}
    for weekday in range(7):
        ranges = parse_ranges(texts.get(weekday, ""), weekday, center)
        if ranges:
            new[weekday] = ranges
    with write_tx():
        old = weekly(tutor, center)
        if old == new:
            return new
        Availability.delete().where(
            Availability.tutor == tutor.id, Availability.center == center.id
        ).execute()
        rows = [
            {
                "tutor": tutor.id,
                "center": center.id,
                "weekday": weekday,
                "starts": s,
                "ends": e,
                "created_at": utcnow(),
            }
            for weekday, ranges in new.items()
            for s, e in ranges
        ]
        if rows:
            Availability.insert_many(rows).execute()
        # Only the days that changed; a day cleared reads "no hours", not a new value.
        changed = [d for d in range(7) if old.get(d) != new.get(d)]
        audit.record(
            actor,
            "availability.set",
            center=center,
            target=tutor,
            before={WEEKDAYS[d]: as_text(old[d]) if d in old else NO_HOURS for d in changed},
            after={
                "tutor": tutor.name,
                **{WEEKDAYS[d]: as_text(new[d]) if d in new else NO_HOURS for d in changed},
            },
        )
    return new


def days_off(tutor, center, since=None):
    """The tutor's days off at the center from ``since`` (a date) on, soonest first."""
    query = DayOff.select().where(DayOff.tutor == tutor.id, DayOff.center == center.id)
    if since is not None:
        query = query.where(DayOff.day >= since)
    return list(query.order_by(DayOff.day))


def add_day_off(tutor, center, value, actor=None):
    """Mark a whole center-local date off; returns the date (adding it twice is a no-op)."""
    check_tutor(tutor, center)
    day = clean_day(value, "day", "Day off")
    if day < center.today():
        raise ValidationError("That day has already passed; choose today or a later day.", "day")
    with write_tx():
        created = (
            DayOff.insert(tutor=tutor.id, center=center.id, day=day, created_at=utcnow())
            .on_conflict_ignore()
            .execute()
        )
        if created:
            audit.record(
                actor,
                "availability.day_off",
                center=center,
                target=tutor,
                after={"tutor": tutor.name, "day_off": day.isoformat()},
            )
    return day


def remove_day_off(tutor, center, day_off_id, actor=None):
    """Take a day off back; False when there was no such day off."""
    with write_tx():
        row = DayOff.get_or_none(
            DayOff.id == day_off_id, DayOff.tutor == tutor.id, DayOff.center == center.id
        )
        if row is None:
            return False
        row.delete_instance()
        audit.record(
            actor,
            "availability.day_off_removed",
            center=center,
            target=tutor,
            before={"tutor": tutor.name, "day_off": row.day.isoformat()},
        )
    return True


def _utc(day, hhmm, timezone):
    hour, minute = (int(p) for p in hhmm.split(":"))
    return to_utc(datetime.datetime.combine(day, datetime.time(hour, minute)), timezone)


def hours(center, day):
    """The naive-UTC (start, end) of the center's opening hours on a local date."""
    return _utc(day, center.opens_at, center.timezone), _utc(day, center.closes_at, center.timezone)


def is_day_off(tutor, center, day):
    return (
        DayOff.select()
        .where(DayOff.tutor == tutor.id, DayOff.center == center.id, DayOff.day == day)
        .exists()
    )


def windows(tutor, center, day):
    """The naive-UTC [start, end) intervals the tutor takes appointments on a local date."""
    if is_day_off(tutor, center, day):
        return []
    opens, closes = hours(center, day)
    ranges = weekly(tutor, center)
    if not ranges:
        return [(opens, closes)]
    result = []
    for starts, ends in ranges.get(day.weekday(), []):
        start = max(opens, _utc(day, starts, center.timezone))
        end = min(closes, _utc(day, ends, center.timezone))
        if start < end:
            result.append((start, end))
    return result


def describe(tutor, center, day):
    """The tutor's hours on a local date in words ("10:00–12:00, 14:00–16:00")."""
    ranges = weekly(tutor, center)
    if not ranges:
        return f"{center.opens_at}–{center.closes_at}"
    return ", ".join(f"{s}–{e}" for s, e in ranges.get(day.weekday(), [])) or "not at all"


def form_texts(form):
    """weekday → the submitted text of its field (``day0`` … ``day6``)."""
    return {d: (form.get(f"day{d}") or "")[: MAX_FIELD + 1] for d in range(7)}


def page_context(tutor, center, texts=None):
    """What an Availability page shows for one tutor at one center."""
    ranges = weekly(tutor, center)
    if texts is None:
        texts = {d: as_text(ranges.get(d, [])) for d in range(7)}
    return {
        "tutor": tutor,
        "center": center,
        "weekdays": list(enumerate(WEEKDAYS)),
        "texts": texts,
        "has_ranges": bool(ranges),
        "days_off": days_off(tutor, center, since=center.today()),
        "today": center.today(),
    }
