"""How a time reads, the one way every page, e-mail and message shows it (Babel).

Stored times are naive UTC (``clock``). A time is shown in the center's zone with its
abbreviation, "3:10 AM EST", and, on a page, also in the viewer's own zone when that
reads differently: "3:10 AM EST (9:10 AM CET for you)". E-mails show the center's zone
only (``viewer=None``). CSVs are not formatted here: they keep UTC ISO 8601 (DESIGN §8).

In templates (filters registered by ``install``)::

    {{ a.start_at|when(center.timezone) }}              Tue, Dec 1, 2026, 3:10 AM EST
    {{ a.start_at|when(center.timezone, "time") }}      3:10 AM EST
    {{ e.created_at|when(tz, "seconds") }}              3:10:05 AM EST
    {{ a.start_at|span(a.end_at, center.timezone) }}    Tue, Dec 1, 2026, 3:10 – 3:40 AM EST
    {{ session.date|day }}  {{ day|day("full") }}       Tue, Dec 1, 2026 · Tuesday, December 1, 2026

A zone of None means "no center": the viewer's own zone, else their center's, else UTC.
In Python, call ``when``/``span``/``day`` directly (``viewer=None`` outside a page).
The locale is ``LOCALE`` (``app.config["LOCALE"]`` when set); no translations exist.
"""

import datetime
import difflib
import functools
import re
import zoneinfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_interval, format_skeleton, format_time
from flask import current_app, g, has_app_context, has_request_context
from flask_login import current_user

from . import clock

LOCALE = "en_US"
VIEWER = object()  # "whoever is looking at the page" (the default in templates)

_TIME_FORMATS = {"time": "short", "seconds": "medium"}
# CLDR puts a narrow no-break space before AM/PM and thin spaces around a range's dash;
# plain spaces read the same and survive every e-mail client and search.
_PLAIN = str.maketrans({"\u202f": " ", "\u2009": " ", "\u00a0": " "})
_DAY_SKELETONS = {
    "short": "MMMEd",
    "medium": "yMMMEd",
    "full": None,
    "numeric": "yMMMd",
    "weekday": None,
}


def locale():
    """The display locale: the app's ``LOCALE`` setting inside an app, else en_US."""
    if has_app_context():
        return current_app.config.get("LOCALE") or LOCALE
    return LOCALE


def viewer_zone():
    """The signed-in user's own time zone on a page, or None (no request, no choice)."""
    if not has_request_context():
        return None
    return getattr(current_user, "timezone", None) or None


def page_zone():
    """The zone of a time that belongs to no center, on a page: the viewer's own, else their
    first center's, else UTC (outside a page: UTC)."""
    if not has_request_context():
        return clock.UTC
    if "page_zone" not in g:
        center = None
        if getattr(current_user, "is_authenticated", False):
            center = current_user.finding_center()
        g.page_zone = viewer_zone() or (center.timezone if center else clock.UTC)
    return g.page_zone


def _aware(moment, timezone):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(clock.zone(timezone))


def abbreviation(local, where=None):
    """A zone's short name at that moment: "EST"/"EDT", "CET", "UTC", else "GMT+5:30"."""
    where = where or locale()
    name = format_datetime(local, "z", locale=where)
    if name.isalpha():
        return name
    name = local.tzname() or ""
    if name.isalpha():
        return name
    return _gmt(local.utcoffset())


def _gmt(offset):
    """ "GMT-3", "GMT+5:30": an offset for a zone that has no short name."""
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _clock(local, style, where):

    return format_time(local, _TIME_FORMATS.get(style, "short"), locale=where)


def _dated(local, style, where, text):
    """``text`` (a time) with the date in front for the dated styles."""
    if style in _TIME_FORMATS:
        return text
    date = format_skeleton("yMMMEd" if style == "datetime" else "MMMEd", local, locale=where)
    return Locale.parse(where).datetime_formats["medium"].format(text, date)


def _one(moment, timezone, style, where):
    local = _aware(moment, timezone)
    text = _dated(local, style, where, _clock(local, style, where))
    return f"{text} {abbreviation(local, where)}".translate(_PLAIN)


def _for_you(moment, timezone, viewer, where, end=None):
    """ " (9:10 AM CET for you)" when the viewer's zone reads differently, else ""."""
    if viewer is VIEWER:
        viewer = viewer_zone()
    if not viewer or viewer == timezone:
        return ""
    there, here = _aware(moment, timezone), _aware(moment, viewer)
    if there.utcoffset() == here.utcoffset() and abbreviation(there) == abbreviation(here):
        return ""
    style = "time" if here.date() == there.date() else "short"
    if end is not None:
        return f" ({_span(moment, end, viewer, style, where)} for you)"
    return f" ({_one(moment, viewer, style, where)} for you)"


def when(moment, timezone=None, style="datetime", viewer=VIEWER):
    """A naive-UTC ``moment`` as people read it; ``style`` is "datetime" (the default),
    "short" (no year), "time" or "seconds". None reads as ""."""
    if moment is None:
        return ""
    where = locale()
    if timezone is None:
        timezone = page_zone() if viewer is VIEWER else (viewer or clock.UTC)
    return _one(moment, timezone, style, where) + _for_you(moment, timezone, viewer, where)


def span(start, end, timezone=None, style="datetime", viewer=VIEWER):
    """From ``start`` to ``end``: "Tue, Dec 1, 2026, 3:10 – 3:40 AM EST" (style "time": no date)."""
    where = locale()
    if timezone is None:
        timezone = page_zone() if viewer is VIEWER else (viewer or clock.UTC)
    return _span(start, end, timezone, style, where) + _for_you(start, timezone, viewer, where, end)


def _span(start, end, timezone, style, where):
    first, last = _aware(start, timezone), _aware(end, timezone)
    if first.date() == last.date():
        times = format_interval(first.timetz(), last.timetz(), "hm", locale=where)
        text = _dated(first, style, where, times)
    else:
        text = f"{_dated(first, style, where, _clock(first, 'time', where))} – " + _dated(
            last, style, where, _clock(last, "time", where)
        )
    return f"{text} {abbreviation(first, where)}".translate(_PLAIN)


def day(value, style="medium"):
    """A calendar date (no zone: it is already a center's day): "Tue, Dec 1, 2026";
    style "short" (no year), "full" ("Tuesday, December 1, 2026"), "numeric" or "weekday"
    ("Tuesday")."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        value = value.date()
    skeleton = _DAY_SKELETONS.get(style, "yMMMEd")
    if skeleton is None:
        pattern = "EEEE" if style == "weekday" else "full"
        return format_date(value, pattern, locale=locale()).translate(_PLAIN)
    return format_skeleton(skeleton, value, locale=locale()).translate(_PLAIN)


def clock_time(moment, timezone):
    """Only the wall-clock time, "3:10 PM", for a grid of times whose zone is said once
    beside it (``abbreviation``); everywhere else use ``when``."""
    if moment is None:
        return ""
    return _clock(_aware(moment, timezone), "time", locale()).translate(_PLAIN)


def zone_abbreviation(moment, timezone):
    """The zone's short name at ``moment`` there: "EST" or "EDT"."""
    return abbreviation(_aware(moment, timezone))


def zone_label(timezone):
    """A zone as a page names it: "America/New_York (EST)", the abbreviation of now."""
    if not timezone:
        return ""
    return f"{timezone} ({abbreviation(_aware(clock.utcnow(), timezone))})"


# --- choosing a zone --------------------------------------------------------------------


@functools.cache
def zone_names():
    """Every IANA zone a picker offers, sorted (no legacy aliases like "EST5EDT")."""
    names = zoneinfo.available_timezones()
    return tuple(sorted(n for n in names if "/" in n and not n.startswith(("Etc/", "SystemV/"))))


def zone_groups():
    """The picker's options grouped by region: [("America", [names]), …] and UTC last."""
    groups = {}
    for name in zone_names():
        groups.setdefault(name.split("/", 1)[0], []).append(name)
    return [*sorted(groups.items()), ("Other", ["UTC"])]


def zone_options():
    """The picker's (name, label) pairs: "America/New_York", "America · EST" (today's
    abbreviation, so typing "EST" or "Eastern"'s zone finds it too)."""
    return _zone_options(clock.utcnow().date())


@functools.lru_cache(maxsize=2)
def _zone_options(today):
    moment = datetime.datetime.combine(today, datetime.time(12))
    return tuple(
        (
            name,
            f"{region} · {abbreviation(_aware(moment, name), LOCALE)}{_COMMON_NAMES.get(name, '')}",
        )
        for region, names in zone_groups()
        for name in names
    )


# Words people type for a zone and the zone they most likely mean.
_COMMON = {
    "eastern": "America/New_York",
    "est": "America/New_York",
    "edt": "America/New_York",
    "et": "America/New_York",
    "central": "America/Chicago",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "ct": "America/Chicago",
    "mountain": "America/Denver",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "mt": "America/Denver",
    "arizona": "America/Phoenix",
    "pacific": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "alaska": "America/Anchorage",
    "akst": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "hst": "Pacific/Honolulu",
    "atlantic": "America/Halifax",
    "newfoundland": "America/St_Johns",
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "zulu": "UTC",
    "bst": "Europe/London",
    "uk": "Europe/London",
    "cet": "Europe/Berlin",
    "cest": "Europe/Berlin",
    "ist": "Asia/Kolkata",
    "india": "Asia/Kolkata",
    "jst": "Asia/Tokyo",
    "aest": "Australia/Sydney",
}


# The everyday name a picker shows beside the zone it means, so typing "Eastern" finds it.
_EVERYDAY = ("eastern", "central", "mountain", "arizona", "pacific", "alaska", "hawaii")
_EVERYDAY += ("atlantic", "newfoundland", "india")
_COMMON_NAMES = {_COMMON[word]: f" · {word.capitalize()} time" for word in _EVERYDAY}
_COMMON_NAMES["UTC"] = " · Coordinated Universal Time"


def _key(text):
    return re.sub(r"[^a-z]", "", text.lower().replace("time", "").replace("standard", ""))


def suggest_zone(text):
    """The IANA zone someone most likely meant by ``text`` ("Eastern" → America/New_York),
    or None when nothing is close."""
    text = (text or "").strip()
    if not text:
        return None
    key = _key(text)
    if key in _COMMON:
        return _COMMON[key]
    names = zone_names()
    folded = {n.lower(): n for n in names}
    if text.lower() in folded:  # "america/new_york"
        return folded[text.lower()]
    city = text.lower().replace(" ", "_")
    for name in names:  # "Chicago", "new york"
        if name.lower().rsplit("/", 1)[-1] == city:
            return name
    close = difflib.get_close_matches(text.lower().replace(" ", "_"), folded, n=1, cutoff=0.8)
    return folded[close[0]] if close else None


def install(app):
    """Make the formatters template filters and globals (``|when``, ``|span``, ``|day``)."""
    app.jinja_env.filters.update(
        when=when,
        span=span,
        day=day,
        zone_label=zone_label,
        clock_time=clock_time,
        zone_abbreviation=zone_abbreviation,
    )
    app.jinja_env.globals.update(
        zone_options=zone_options, zone_label=zone_label, viewer_zone=viewer_zone
    )
