"""A real SMTP server (aiosmtpd) in the test process, and helpers to read what it received."""

import datetime
import email
import socket
import threading
import zoneinfo
from email import policy

import icalendar
from aiosmtpd.controller import Controller

from portal import appointments
from portal.models import Center, utcnow

BASE_URL = "https://portal.example.edu"
SENDER = "Virtual Meetings Portal <portal@example.edu>"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Received:
    """One message as the server got it: the envelope and the parsed message."""

    def __init__(self, envelope):
        self.mail_from = envelope.mail_from
        self.rcpt_tos = list(envelope.rcpt_tos)
        self.raw = envelope.original_content or envelope.content
        self.message = email.message_from_bytes(self.raw, policy=policy.default)

    @property
    def to(self):
        return str(self.message["To"])

    @property
    def subject(self):
        return str(self.message["Subject"]).strip()  # Python may fold before the first word

    @property
    def text(self):
        return self.message.get_body(("plain",)).get_content()

    def calendar(self):
        """The text/calendar part parsed with icalendar, or None."""
        for part in self.message.walk():
            if part.get_content_type() == "text/calendar":
                return icalendar.Calendar.from_ical(part.get_content())
        return None

    def event(self):
        return self.calendar().walk("VEVENT")[0]


class Inbox:
    """The handler: keeps every message; ``refuse`` makes it answer DATA with that reply."""

    def __init__(self):
        self.messages = []
        self.refuse = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        with self.lock:
            self.messages.append(Received(envelope))
        return "250 Message accepted"

    def to(self, address):
        return [m for m in self.messages if address in m.rcpt_tos]

    def kinds(self):
        return sorted((m.rcpt_tos[0], m.subject.split(":")[0]) for m in self.messages)


class SMTPServer:
    """aiosmtpd on a free loopback port; ``stop()``/``start()`` take it down and up again."""

    def __init__(self, **kwargs):
        self.inbox = Inbox()
        self.port = free_port()
        self.kwargs = kwargs
        self.controller = None

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def start(self):
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **self.kwargs
        )
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.inbox.messages


def mail_config(app_config, server, **extra):
    """An app config that sends through ``server``; deliveries run when a test runs them."""
    config = dict(app_config)
    config.update(
        {
            "MAIL_URL": server.url,
            "MAIL_FROM": SENDER,
            "PUBLIC_BASE_URL": BASE_URL,
            "MAIL_DELIVERY": "manual",
        }
    )
    config.update(extra)
    return config


def book(student, tutor, minutes_from_now=None, days=2, hour=14, length=30):
    """Book an online appointment (naive times are the center's local time).

    ``minutes_from_now`` books soon, whatever the hour: the center opens all day with
    5-minute slots and the start is rounded up to the next 5 minutes, so the booking
    goes through the same rules as the pages (``appointments.book``).
    """
    center = appointments.shared_center(student, tutor)
    if minutes_from_now is not None:
        start = (utcnow() + datetime.timedelta(minutes=minutes_from_now)).replace(
            second=0, microsecond=0
        )
        start += datetime.timedelta(minutes=-start.minute % 5)
        end = start + datetime.timedelta(minutes=length)
        if center.local(start).date() != center.local(end - datetime.timedelta(minutes=1)).date():
            # Across the center's midnight no opening hours can hold it: make the row the
            # way the service does, without the hours (the mail tests don't test them).
            return appointments._hold(student, tutor, center, "online", start, end, None)
        Center.update(opens_at="00:00", closes_at="23:59", slot_minutes=5).where(
            Center.id == center.id
        ).execute()
        at = start.replace(tzinfo=datetime.UTC).isoformat()
    else:
        zone = zoneinfo.ZoneInfo(center.timezone)
        day = (datetime.datetime.now(zone) + datetime.timedelta(days=days)).date()
        at = f"{day.isoformat()}T{hour:02d}:00"
    return appointments.book(student, tutor, "online", at, length)


def send_reminders(runner):
    result = runner.invoke(args=["portal", "send-reminders"])
    if result.exception and result.exit_code != 0:
        import traceback

        traceback.print_exception(result.exception)
    assert result.exit_code == 0, result.output
    return result.output
