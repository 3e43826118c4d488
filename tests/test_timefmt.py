"""portal.timefmt: how a time reads (Babel), across DST, in the viewer's zone, and the
guard that keeps every page, e-mail and message on it."""

import datetime
import pathlib
import re

import pytest

from portal import timefmt

ROOT = pathlib.Path(__file__).resolve().parent.parent
NY = "America/New_York"


def test_a_time_reads_in_the_zone_with_its_abbreviation():
    at = datetime.datetime(2026, 12, 1, 20, 10)  # naive UTC
    assert timefmt.when(at, NY, "time", viewer=None) == "3:10 PM EST"
    assert timefmt.when(at, NY, viewer=None) == "Tue, Dec 1, 2026, 3:10 PM EST"
    assert timefmt.when(at, NY, "short", viewer=None) == "Tue, Dec 1, 3:10 PM EST"
    assert timefmt.when(at, NY, "seconds", viewer=None) == "3:10:00 PM EST"
    assert timefmt.when(at, "UTC", "time", viewer=None) == "8:10 PM UTC"
    assert timefmt.when(None, NY) == ""


def test_a_span_names_the_zone_once():
    start = datetime.datetime(2026, 12, 1, 20, 10)
    end = start + datetime.timedelta(minutes=30)
    assert timefmt.span(start, end, NY, viewer=None) == "Tue, Dec 1, 2026, 3:10 – 3:40 PM EST"
    assert timefmt.span(start, end, NY, "time", viewer=None) == "3:10 – 3:40 PM EST"


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # 8 March 2026, 2:00 AM EST becomes 3:00 AM EDT
        (datetime.datetime(2026, 3, 8, 6, 30), "1:30 AM EST"),
        (datetime.datetime(2026, 3, 8, 7, 30), "3:30 AM EDT"),
        # 1 November 2026, 2:00 AM EDT becomes 1:00 AM EST: 1:30 happens twice
        (datetime.datetime(2026, 11, 1, 5, 30), "1:30 AM EDT"),
        (datetime.datetime(2026, 11, 1, 6, 30), "1:30 AM EST"),
        (datetime.datetime(2026, 7, 1, 16, 0), "12:00 PM EDT"),
    ],
)
def test_each_side_of_a_dst_change_has_its_own_abbreviation(utc, expected):
    assert timefmt.when(utc, NY, "time", viewer=None) == expected


def test_zones_without_an_english_abbreviation_still_name_themselves():
    winter = datetime.datetime(2026, 12, 1, 12, 0)
    summer = datetime.datetime(2026, 7, 1, 12, 0)
    assert timefmt.when(winter, "Europe/Berlin", "time", viewer=None) == "1:00 PM CET"
    assert timefmt.when(summer, "Europe/Berlin", "time", viewer=None) == "2:00 PM CEST"
    assert timefmt.when(summer, "Europe/London", "time", viewer=None) == "1:00 PM BST"
    assert timefmt.when(winter, "Asia/Kolkata", "time", viewer=None) == "5:30 PM IST"
    # a zone with no letters at all gets its offset
    assert timefmt.when(winter, "America/Sao_Paulo", "time", viewer=None) == "9:00 AM GMT-3"


def test_the_viewers_zone_is_added_where_it_reads_differently():
    at = datetime.datetime(2026, 12, 1, 20, 10)
    assert (
        timefmt.when(at, NY, "time", viewer="Europe/Berlin") == "3:10 PM EST (9:10 PM CET for you)"
    )
    # on another day for the viewer: the date says so
    late = datetime.datetime(2026, 12, 2, 3, 0)
    assert (
        timefmt.when(late, NY, "time", viewer="Europe/Berlin")
        == "10:00 PM EST (Wed, Dec 2, 4:00 AM CET for you)"
    )
    end = at + datetime.timedelta(minutes=30)
    assert (
        timefmt.span(at, end, NY, "time", viewer="Asia/Kolkata")
        == "3:10 – 3:40 PM EST (Wed, Dec 2, 1:40 – 2:10 AM IST for you)"
    )
    # the same zone, or another name for the same clock, adds nothing
    assert timefmt.when(at, NY, "time", viewer=NY) == "3:10 PM EST"
    assert timefmt.when(at, NY, "time", viewer="America/Toronto") == "3:10 PM EST"
    assert timefmt.when(at, NY, "time", viewer=None) == "3:10 PM EST"


def test_a_time_of_no_center_reads_in_the_viewers_zone_else_utc():
    at = datetime.datetime(2026, 12, 1, 20, 10)
    assert timefmt.when(at, None, "time") == "8:10 PM UTC"  # outside a page
    assert timefmt.when(at, None, "time", viewer="Europe/Berlin") == "9:10 PM CET"


def test_days_have_no_zone():
    day = datetime.date(2026, 12, 1)
    assert timefmt.day(day) == "Tue, Dec 1, 2026"
    assert timefmt.day(day, "short") == "Tue, Dec 1"
    assert timefmt.day(day, "full") == "Tuesday, December 1, 2026"


def test_the_locale_comes_from_the_app(app):
    at = datetime.datetime(2026, 12, 1, 20, 10)
    with app.app_context():
        assert timefmt.locale() == "en_US"
        app.config["LOCALE"] = "en_GB"
        assert timefmt.when(at, "Europe/London", "time", viewer=None) == "20:10 GMT"


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Eastern", "America/New_York"),
        ("EST", "America/New_York"),
        ("Eastern Standard Time", "America/New_York"),
        ("Pacific", "America/Los_Angeles"),
        ("Central", "America/Chicago"),
        ("Mountain", "America/Denver"),
        ("utc", "UTC"),
        ("chicago", "America/Chicago"),
        ("New York", "America/New_York"),
        ("america/new_yrok", "America/New_York"),
    ],
)
def test_the_likely_zone_is_suggested(typed, zone):
    assert timefmt.suggest_zone(typed) == zone


def test_nothing_is_suggested_for_nonsense():
    assert timefmt.suggest_zone("Mars/Base") is None
    assert timefmt.suggest_zone("") is None


def test_the_picker_offers_every_region_and_utc():
    names = timefmt.zone_names()
    assert "America/New_York" in names and "Europe/Berlin" in names and "EST5EDT" not in names
    groups = dict(timefmt.zone_groups())
    assert "America/Chicago" in groups["America"] and groups["Other"] == ["UTC"]
    labels = dict(timefmt.zone_options())
    # findable by "EST" and by "Eastern"
    assert labels["America/New_York"] in (
        "America · EST · Eastern time",
        "America · EDT · Eastern time",
    )
    assert labels["America/Los_Angeles"].endswith(" · Pacific time")
    assert labels["UTC"] == "Other · UTC · Coordinated Universal Time"
    assert labels["Europe/Berlin"] in ("Europe · CET", "Europe · CEST")
    assert len(labels) == len(names) + 1


# --- the guard ---------------------------------------------------------------------------

# Ad-hoc ways of turning a time into text: strftime, f-string "{x:%H:%M}", tzname().
AD_HOC = re.compile(r"strftime\(|\.tzname\(\)|\{[^{}\n]*:%[A-Za-z][^{}\n]*\}|\|\s*datetimeformat")

# Times that are not shown to people: Zoom payloads, file names, Message-IDs.
ALLOWED = {
    ("portal/daily.py", '"start_time": datetime.datetime.combine(day, opens).strftime('),
    ("portal/admin/health.py", 'f"findings-{utcnow():%Y%m%d-%H%M}.csv"'),
    ("portal/admin/health.py", 'f"audit-{utcnow():%Y%m%d-%H%M}.csv"'),
    ("portal/backup.py", 'f"portal-{now:%Y%m%d-%H%M%S-%f}.{ext}"'),
    ("portal/backup.py", "datetime.datetime.now(datetime.UTC):%Y%m%d-%H%M%S}"),
    ("portal/notifications/messages.py", "{row.created_at:%Y%m%d%H%M%S}@{domain}"),
}
# Not user-facing, or the formatter itself.
SKIP = ("templates/zoom_sim/", "portal/zoom/simulator/", "portal/zoom/bodies.py")
SKIP_FILES = {"portal/timefmt.py"}


def _sources():
    for pattern in ("templates/**/*.html", "templates/**/*.txt", "portal/**/*.py"):
        for path in sorted(ROOT.glob(pattern)):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(SKIP) or rel in SKIP_FILES:
                continue
            yield rel, path.read_text(encoding="utf-8")


def test_no_page_email_or_message_formats_a_time_by_hand():
    found = []
    for rel, text in _sources():
        for number, line in enumerate(text.splitlines(), 1):
            if AD_HOC.search(line) and not any(
                rel == path and snippet in line for path, snippet in ALLOWED
            ):
                found.append(f"{rel}:{number}: {line.strip()}")
    assert not found, (
        "Times are shown through portal/timefmt.py, not by hand. In templates use "
        "{{ moment|when(center.timezone) }} (or |when(tz, 'time'|'short'|'seconds'), "
        "{{ start|span(end, tz) }}, {{ date|day }}); in Python timefmt.when/span/day "
        "(viewer=None for e-mail and stored text). CSVs keep UTC ISO 8601. "
        "If the text is not for people (a file name, a Zoom payload), add it to ALLOWED.\n"
        + "\n".join(found)
    )


ISO_IN_TEMPLATE = re.compile(r"\{\{[^{}]*isoformat\(\)[^{}]*\}\}")


def _iso_shown_as_text(text):
    """``{{ x.isoformat() }}`` outside an attribute value or a url_for: shown to people."""
    for match in ISO_IN_TEMPLATE.finditer(text):
        if "url_for" in match.group() or text[: match.start()].endswith('="'):
            continue
        yield match.group()


def test_no_template_shows_an_iso_date_as_text():
    found = [
        f"{rel}: {shown}"
        for rel, text in _sources()
        if rel.startswith("templates/")
        for shown in _iso_shown_as_text(text)
    ]
    assert not found, "Show dates with {{ day|day }} (timefmt), not isoformat():\n" + "\n".join(
        found
    )
    assert list(_iso_shown_as_text("<h1>{{ day.isoformat() }}</h1>"))
    assert not list(_iso_shown_as_text('<input value="{{ day.isoformat() }}">'))


def test_the_guard_catches_each_ad_hoc_form():
    for line in (
        '{{ a.start_at.strftime("%H:%M") }}',
        'f"at {event.at:%Y-%m-%d %H:%M} UTC"',
        "{{ start.tzname() }}",
    ):
        assert AD_HOC.search(line), line
    assert not AD_HOC.search('{{ a.start_at|when(center.timezone, "time") }}')
