"""Calendar data (RFC 5545 / iTIP RFC 5546) with the ``icalendar`` package.

One event per appointment, with a UID that never changes (``appointment-<id>@<host>``),
times in UTC, and the Join link as URL and LOCATION. An invitation is a calendar with
METHOD:REQUEST (booking, reminder: the same event again, which calendars treat as an
update) or METHOD:CANCEL (SEQUENCE one higher, STATUS:CANCELLED); the tutor's feed is a
plain calendar without METHOD that Google Calendar and Outlook subscribe to.
"""

import datetime
from urllib.parse import urlsplit

import icalendar

PRODID = "-//Virtual Meetings Portal//Notifications//EN"


def uid(appointment_id, base_url):
    """The appointment's stable UID."""
    host = urlsplit(base_url).hostname or "virtual-meetings-portal"
    return f"appointment-{appointment_id}@{host}"


def _utc(moment):
    return moment.replace(tzinfo=datetime.UTC)


def event(appointment, *, base_url, summary, url, description, sequence=0, cancelled=False):
    """The VEVENT of one appointment (naive-UTC times from the database)."""
    item = icalendar.Event()
    item.add("uid", uid(appointment.id, base_url))
    item.add("dtstamp", datetime.datetime.now(datetime.UTC).replace(microsecond=0))
    item.add("dtstart", _utc(appointment.start_at))
    item.add("dtend", _utc(appointment.end_at))
    item.add("summary", summary)
    item.add("description", description)
    if url:
        item.add("url", url)
        item.add("location", url)
    item.add("sequence", sequence)
    item.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    item.add("transp", "OPAQUE")
    return item


def _people(item, organizer, attendee):
    """ORGANIZER and ATTENDEE, required by iTIP for REQUEST and CANCEL."""
    org = icalendar.vCalAddress(f"mailto:{organizer.addr_spec}")
    if organizer.display_name:
        org.params["cn"] = icalendar.vText(organizer.display_name)
    item.add("organizer", org)
    att = icalendar.vCalAddress(f"mailto:{attendee[1]}")
    att.params["cn"] = icalendar.vText(attendee[0])
    att.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    item.add("attendee", att)


def invitation(item, method, *, organizer, attendee):
    """A calendar carrying one event for an e-mail: METHOD REQUEST or CANCEL."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    _people(item, organizer, attendee)
    cal.add_component(item)
    return cal.to_ical().decode("utf-8")


def feed(items, name):
    """A subscribable calendar (no METHOD) of many events."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", datetime.timedelta(minutes=30), parameters={"VALUE": "DURATION"})
    for item in items:
        cal.add_component(item)
    return cal.to_ical().decode("utf-8")
