"""Which browser a tutor pressed Start on, for the same_device check.

The Join routes give every browser a random device cookie (``portal.student.
join_views``). When a tutor's Start succeeds (``tutor.start_session`` answers 303
to Zoom), ``remember_start`` stores that cookie's value as one of the tutor's
devices, giving the browser one if it has none yet, so a student's Join from the
same browser later carries the same id. ``tutor.start_session`` calls it on success.
"""

import re
import secrets

from flask import current_app, request

from ..db import retry_locked
from ..models import TutorDevice, utcnow

DEVICE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
MAX_AGE = 400 * 24 * 3600  # as the Join routes' cookie


def cookie_name():
    """The device cookie's name: the same one the Join routes read and set."""
    return "__Host-device" if current_app.config.get("SESSION_COOKIE_SECURE") else "vmp_device"


def remember_start(response, tutor_id, session_id):
    """After a successful Start, record (and if needed set) the tutor's device cookie."""
    name = cookie_name()
    device = request.cookies.get(name, "")
    if not DEVICE.match(device):
        device = secrets.token_urlsafe(24)
        secure = bool(current_app.config.get("SESSION_COOKIE_SECURE"))
        response.set_cookie(
            name, device, max_age=MAX_AGE, path="/", secure=secure, httponly=True, samesite="Lax"
        )
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
