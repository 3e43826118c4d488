"""The device cookie, and which browser a tutor pressed Start on, for the same_device check.

This module owns the cookie: a long-lived random id (HttpOnly, SameSite=Lax, Secure
and ``__Host-`` in production). The Join routes (``student.join_*``) read it with
``current`` and set it with ``set_cookie``. When a tutor's Start succeeds
(``tutor.start_session`` answers 303 to Zoom), ``remember_start`` stores its value as
one of the tutor's devices, giving the browser one if it has none yet, so a student's
Join from the same browser later carries the same id.
"""

import re
import secrets

from flask import current_app, request

from ..db import retry_locked
from ..models import TutorDevice, utcnow

DEVICE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers keep


def cookie_name():
    """The device cookie's name (``__Host-`` when cookies are Secure)."""
    return "__Host-device" if current_app.config.get("SESSION_COOKIE_SECURE") else "vmp_device"


def current():
    """This browser's device id and whether it is new: ``(device, fresh)``."""
    device = request.cookies.get(cookie_name(), "")
    if DEVICE.match(device):
        return device, False
    return secrets.token_urlsafe(24), True


def set_cookie(response, device):
    """Give the browser its device cookie."""
    secure = bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    response.set_cookie(
        cookie_name(),
        device,
        max_age=MAX_AGE,
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )
    return response


def remember_start(response, tutor_id, session_id):
    """After a successful Start, record (and if needed set) the tutor's device cookie."""
    device, fresh = current()
    if fresh:
        set_cookie(response, device)
    record(tutor_id, device, session_id)
    return response


def record(tutor_id, device_id, session_id=None):
    """Store (or refresh) one of the tutor's Start devices."""
    now = utcnow()
    retry_locked(
        lambda: (
            TutorDevice.insert(tutor=tutor_id, device_id=device_id, session=session_id, seen_at=now)
            .on_conflict(
                conflict_target=[TutorDevice.tutor, TutorDevice.device_id],
                update={TutorDevice.seen_at: now, TutorDevice.session: session_id},
            )
            .execute()
        )
    )
