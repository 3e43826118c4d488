"""Handing work to the job consumer: the one place that knows how a task is queued.

The factory says how the app's huey is built (``app.extensions["huey_factory"]``,
``portal.jobs.create_huey``); it is built on first use, so web workers and tests that
never queue anything never open the queue. Services queue by task name and never
import the tasks themselves, so ``portal.jobs`` may import every service.
"""

import logging

log = logging.getLogger("portal.jobs")


def huey_for(app):
    """The app's own huey (built once): web workers enqueue tasks through it."""
    huey = app.extensions.get("huey")
    if huey is None:
        huey = app.extensions["huey"] = app.extensions["huey_factory"](app)
    return huey


def enqueue(app, task, *args, tolerate=False):
    """Queue ``task`` (a name in ``huey.portal_tasks``) with ``args`` for the consumer.

    ``tolerate``: a queue that cannot be reached is logged and answered False instead of
    raised, for callers whose work a periodic run picks up anyway.
    """
    try:
        huey_for(app).portal_tasks[task](*args)
    except Exception:
        if not tolerate:
            raise
        log.exception("could not enqueue %s", task)
        return False
    return True


def submit(app, task, *args):
    """Queue ``task`` and return huey's ``Result`` handle (``.get(blocking=True)`` waits)."""
    return huey_for(app).portal_tasks[task](*args)


def prepare_session_later(app, tutor_id):
    """Have the job consumer finish a tutor's Daily Session that Zoom was too slow for.

    Production only: in development and tests the next Join or the tutor's panel
    tries again in the request once the short retry wait is over. True if queued;
    when the queue is unreachable the hourly provisioning and the next Join still try.
    """
    if app.debug or app.testing:
        return False
    return enqueue(app, "prepare_daily_session", tutor_id, tolerate=True)
