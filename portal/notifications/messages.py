"""What each outbox row says: subject, plain text (templates/mail/), and its invitation.

Rendered when the row is delivered; every link comes from the app's URL map bound to
``PUBLIC_BASE_URL`` (``links.external``), so it points at the portal's external
address even inside a background job. Times are in the center's time zone
in the text and in UTC in the invitation.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import render_template

from .. import timefmt
from ..clock import local_date
from ..health import notices
from ..health.checks import title
from ..mail import build_message
from ..models import Appointment, Finding, OutboxMessage, ShiftCheck, User, utcnow
from . import account, ics
from .errors import Skip
from .links import external
from .preferences import reminders_on
from .settings import mail_settings

KIND_WORDS = {"online": "online tutoring", "in_person": "tutoring", "walk_in": "virtual walk-in"}


@dataclass
class Content:
    message: object
    to_address: str
    subject: str
    text: str
    ics: str | None
    record_text: str | None = None  # what the outbox keeps when it differs from ``text``


_TOKEN = re.compile(r"([?&]token=)[A-Za-z0-9_-]+")


def hide_tokens(text):
    """The text with every link's token hidden (a password link works once; keep no copy)."""
    return _TOKEN.sub(r"\1[hidden]", text)


def message_id(row, base_url):
    """The same Message-ID on every attempt, so a resend is recognised as the same message."""
    domain = urlsplit(base_url).hostname or "virtual-meetings-portal"
    return f"<vmp.{row.id}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"


def when(moment, timezone):
    """``Tue, Dec 1, 2026, 2:00 PM EST``: e-mails show the center's zone only (timefmt)."""
    return timefmt.when(moment, timezone, viewer=None)


def clock(moment, timezone):
    """``2:00 PM EST`` in the center's zone."""
    return timefmt.when(moment, timezone, "time", viewer=None)


def render(app, row):
    """The Content of an outbox row, or Skip when it is no longer due."""
    settings = mail_settings(app)
    recipient = User.get_by_id(row.recipient_id)
    if not recipient.active:
        raise Skip("the recipient's account is deactivated")
    with app.app_context():  # the templates; a job may call this without one
        subject, text, calendar, method = RENDERERS[row.kind](app, row, recipient, settings)
    message = build_message(
        sender=settings.sender,
        to_name=recipient.name,
        to_address=recipient.email,
        subject=subject,
        text=text,
        message_id=message_id(row, settings.base_url),
        ics=calendar,
        ics_method=method,
    )
    record = hide_tokens(text) if row.kind in account.PRIVATE_KINDS else None
    return Content(message, recipient.email, subject[:300], text, calendar, record)


# --- appointments -----------------------------------------------------------------------


def _appointment(row):
    appointment = Appointment.get_or_none(Appointment.id == row.appointment_id)
    if appointment is None:
        raise Skip("the appointment no longer exists")
    return appointment


def links(app, appointment, recipient):
    """The links an appointment's message carries for this recipient."""
    join = external(app, "student.join_appointment", appointment_id=appointment.id)
    if recipient.id == appointment.student_id:
        return {"main": join, "join": join, "page": external(app, "main.home")}
    start = external(app, "tutor.preferences")
    return {"main": start, "join": join, "page": external(app, "tutor.today")}


def _appointment_context(app, row, recipient, settings):
    appointment = _appointment(row)
    center = appointment.center
    student = appointment.student
    tutor = appointment.tutor
    is_student = recipient.id == appointment.student_id
    other = (tutor.name if tutor else "your tutor") if is_student else student.name
    return {
        "appointment": appointment,
        "center": center,
        "recipient": recipient,
        "is_student": is_student,
        "other": other,
        "student": student,
        "tutor": tutor,
        "what": KIND_WORDS.get(appointment.kind, "tutoring"),
        "when": when(appointment.start_at, center.timezone),
        "range": timefmt.span(
            appointment.start_at, appointment.end_at, center.timezone, viewer=None
        ),
        "date": timefmt.day(local_date(appointment.start_at, center.timezone), "full"),
        "clock": clock(appointment.start_at, center.timezone),
        "timezone": center.timezone,
        "minutes": int((appointment.end_at - appointment.start_at).total_seconds() // 60),
        "links": links(app, appointment, recipient),
        "preferences": external(
            app, "tutor.preferences" if recipient.role == User.TUTOR else "account.preferences"
        ),
        "reminder_minutes": settings.reminder_minutes,
    }


def _invite(ctx, settings, method, cancelled=False):
    appointment = ctx["appointment"]
    summary = f"{ctx['what'].capitalize()} with {ctx['other']}"
    description = render_template("mail/_ics_description.txt", **ctx)
    item = ics.event(
        appointment,
        base_url=settings.base_url,
        summary=summary,
        url=ctx["links"]["main"],
        description=description,
        sequence=(appointment.sequence or 0) + (1 if cancelled else 0),
        cancelled=cancelled,
    )
    recipient = ctx["recipient"]
    return ics.invitation(
        item, method, organizer=settings.sender, attendee=(recipient.name, recipient.email)
    )


def _current(row, appointment, kind, recipient):
    """Skip a confirmation or reminder queued before the appointment moved: the one queued
    for its new time says it instead (so nobody gets two)."""
    from .bookings import key_for  # bookings → outbox → messages: import when used

    if row.key != key_for(appointment, kind, recipient.id):
        raise Skip("the appointment moved; the message for its new time replaces this one")


def confirmation(app, row, recipient, settings):
    ctx = _appointment_context(app, row, recipient, settings)
    if ctx["appointment"].status == Appointment.CANCELLED:
        raise Skip("the appointment was cancelled before its confirmation went out")
    _current(row, ctx["appointment"], "confirmation", recipient)
    ctx["moved"] = bool(ctx["appointment"].sequence)
    if ctx["moved"]:
        subject = f"Moved: {ctx['what']} with {ctx['other']}, now {ctx['when']}"
    elif ctx["is_student"]:
        subject = f"Booked: {ctx['what']} with {ctx['other']}, {ctx['when']}"
    else:
        subject = f"New appointment: {ctx['other']}, {ctx['what']}, {ctx['when']}"
    text = render_template("mail/confirmation.txt", **ctx)
    return subject, text, _invite(ctx, settings, "REQUEST"), "REQUEST"


def reminder(app, row, recipient, settings):
    ctx = _appointment_context(app, row, recipient, settings)
    appointment = ctx["appointment"]
    if appointment.status != Appointment.BOOKED:
        raise Skip("the appointment is no longer booked")
    if appointment.start_at <= utcnow():
        raise Skip("the appointment has already started")
    _current(row, appointment, "reminder", recipient)
    if not reminders_on(recipient):
        raise Skip("the recipient turned reminders off")
    subject = f"Reminder: {ctx['what']} with {ctx['other']} at {ctx['clock']}"
    text = render_template("mail/reminder.txt", **ctx)
    return subject, text, _invite(ctx, settings, "REQUEST"), "REQUEST"


def cancellation(app, row, recipient, settings):
    ctx = _appointment_context(app, row, recipient, settings)
    confirmed = OutboxMessage.get_or_none(
        OutboxMessage.appointment == row.appointment_id,
        OutboxMessage.recipient == recipient.id,
        OutboxMessage.kind == "confirmation",
    )
    if confirmed is not None and confirmed.status == OutboxMessage.SKIPPED:
        raise Skip("the booking was never announced, so there is nothing to cancel")
    actor = row.actor_id
    sides = (ctx["appointment"].student_id, ctx["appointment"].tutor_id)
    if actor == recipient.id:
        ctx["by"] = f"You cancelled the {ctx['what']} with {ctx['other']}"
    elif actor is not None and actor in sides:
        ctx["by"] = f"{ctx['other']} cancelled the {ctx['what']} with you"
    else:
        ctx["by"] = f"{ctx['center'].name} cancelled the {ctx['what']} with {ctx['other']}"
    subject = f"Cancelled: {ctx['what']} with {ctx['other']}, {ctx['when']}"
    text = render_template("mail/cancellation.txt", **ctx)
    return subject, text, _invite(ctx, settings, "CANCEL", cancelled=True), "CANCEL"


# --- alerts -----------------------------------------------------------------------------


def alert(app, row, recipient, settings):
    finding = Finding.get_or_none(Finding.id == row.finding_id)
    if finding is None or finding.resolved_at is not None:
        raise Skip("the problem was resolved before the alert went out")
    tutor = User.get_or_none(User.id == finding.tutor_id) if finding.tutor_id else None
    ctx = {
        "finding": finding,
        "recipient": recipient,
        "tutor": tutor,
        "title": title(finding.check),
        "reason": notices.REASONS.get(finding.check, "your Zoom setup needs attention"),
        "for_tutor": tutor is not None and recipient.id == tutor.id,
    }
    if ctx["for_tutor"]:
        ctx["link"] = external(app, "tutor.preferences")
        subject = f"Virtual Meetings needs your attention: {ctx['title']}"
    else:
        ctx["link"] = external(app, "admin.health_finding", finding_id=finding.id)
        who = tutor.name if tutor else "A tutor"
        subject = f"{who}: {ctx['title']}"
    return subject, render_template("mail/alert.txt", **ctx), None, None


def shift_alert(app, row, recipient, settings):
    check = ShiftCheck.get_or_none(ShiftCheck.tutor == row.tutor_id, ShiftCheck.day == row.day)
    tutor = User.get_by_id(row.tutor_id)
    if check is None:
        raise Skip("the before-shift check is gone")
    timezone = check.center.timezone if check.center_id else "UTC"
    ctx = {
        "recipient": recipient,
        "tutor": tutor,
        "for_tutor": recipient.id == tutor.id,
        "rows": (check.detail or {}).get("rows", []),
        "clock": clock(check.first_start, timezone),
        "when": when(check.first_start, timezone),
        "timezone": timezone,
    }
    if ctx["for_tutor"]:
        ctx["link"] = external(app, "tutor.preferences")
        subject = f"Before your {ctx['clock']} appointment: your Zoom setup needs attention"
    else:
        ctx["link"] = external(app, "admin.health_tutor", tutor_id=tutor.id)
        subject = f"{tutor.name} is not ready for their {ctx['clock']} appointment"
    return subject, render_template("mail/shift_alert.txt", **ctx), None, None


RENDERERS = {
    "confirmation": confirmation,
    "reminder": reminder,
    "cancellation": cancellation,
    "alert": alert,
    "shift_alert": shift_alert,
    **account.RENDERERS,
}
