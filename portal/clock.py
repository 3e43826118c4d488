"""Time, the one way the portal reads it: naive UTC stored, center-local shown.

Every timestamp in the database is naive UTC. A center's wall clock is its
``timezone`` (an IANA name); these helpers are the only place that converts
between the two, so "today", a local day's bounds and a local time mean the same
thing everywhere.
"""

import datetime
import zoneinfo

UTC = "UTC"


def utcnow():
    """Naive UTC now; every stored timestamp is naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def zone(timezone):
    """The ZoneInfo of an IANA name (UTC when there is none)."""
    return zoneinfo.ZoneInfo(timezone or UTC)


def to_local(moment, timezone):
    """A naive-UTC datetime as an aware datetime in the time zone (None stays None)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=datetime.UTC).astimezone(zone(timezone))


def to_utc(moment, timezone):
    """A datetime as naive UTC; a naive ``moment`` is wall-clock time in ``timezone``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def local_date(moment, timezone):
    """The date a naive-UTC datetime falls on in the time zone."""
    return to_local(moment, timezone).date()


def today(timezone, now=None):
    """Today's date in the time zone."""
    return local_date(now or utcnow(), timezone)


def day_bounds(timezone, day):
    """The naive-UTC [start, end) of a local date."""
    start = datetime.datetime.combine(day, datetime.time(0))
    return to_utc(start, timezone), to_utc(start + datetime.timedelta(days=1), timezone)


def iso_local_date(text, timezone):
    """The local date of an ISO 8601 time as Zoom writes it (``…Z``), or None if unreadable."""
    try:
        moment = datetime.datetime.fromisoformat(str(text or "").replace("Z", "+00:00"))
        return moment.astimezone(zone(timezone)).date()
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return None
