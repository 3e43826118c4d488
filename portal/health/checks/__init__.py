"""The catalogue of health checks (DESIGN §6), in the order the dashboard shows them.

Every module defines ``NAME``, ``TITLE``, ``SEVERITY``, ``MEANS`` (what it means, in
plain words), ``STEPS`` (the troubleshooting steps of the help article for that
case), ``FIXES`` (the one-click fixes that apply) and ``RESOLVED`` (the words stored
when a scan no longer sees it). Database checks define ``run(ctx)``: one SQL query
returning ``Observation``s. ``session_mismatch`` asks Zoom (``inspect``);
``could_not_check`` records a tutor Zoom could not be asked about.
"""

from . import (
    connection_broken,
    could_not_check,
    duplicate_authorization,
    free_account,
    missing_scope,
    not_connected,
    same_device,
    session_mismatch,
    social_login,
    stale_connect_link,
    students_misrouted,
    waiting_room_stuck,
)

ALL = (
    session_mismatch,
    duplicate_authorization,
    connection_broken,
    not_connected,
    free_account,
    missing_scope,
    stale_connect_link,
    students_misrouted,
    waiting_room_stuck,
    social_login,
    same_device,
    could_not_check,
)
BY_NAME = {module.NAME: module for module in ALL}
DATABASE = tuple(m for m in ALL if hasattr(m, "run"))


def title(name):
    """The card title of a check (other components' checks fall back to their name)."""
    module = BY_NAME.get(name)
    return module.TITLE if module else name.replace("_", " ").capitalize()
