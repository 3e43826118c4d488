"""Background jobs (huey): thin wrappers around the same functions the CLI runs.

Storage is SQLite in the instance folder by default, Redis when HUEY_REDIS_URL
is set. The consumer is started with ``.venv/bin/huey_consumer huey_app.huey``
(``make worker``). Every task opens its own database connection and closes it.
Services queue work through ``portal.enqueue`` by task name, never by importing
this module, so it may import them all.
"""

import datetime
import logging
import os

from huey import RedisHuey, SqliteHuey, crontab

from . import daily
from .auth.password_links import purge_old as purge_old_password_links
from .auth.throttle import purge_old_attempts
from .backup import periodic_backup
from .db import database
from .enqueue import huey_for, prepare_session_later  # noqa: F401 - the entry points' names
from .health import runs
from .live.effects import process_pending
from .models import DailySession, User
from .notifications import before_shift_check as run_before_shift_check
from .notifications import send_reminders as run_send_reminders
from .notifications.outbox import deliver_due
from .sessions import purge_expired
from .zoom.disconnect import retry_pending_revocations
from .zoom.wiring import gateway

log = logging.getLogger("portal.jobs")

PREPARE_ATTEMPTS = 10  # a tutor's Daily Session handed over by Join: tries, PREPARE_DELAY apart
PREPARE_DELAY = 10


def install(app):
    """Tell the app how its huey is built (on first use, by ``enqueue.huey_for``)."""
    app.extensions["huey_factory"] = create_huey


def create_huey(app):
    """Build the huey instance for this app and register its tasks."""
    url = app.config.get("HUEY_REDIS_URL")
    if url:
        huey = RedisHuey("virtual-meetings-portal", url=url)
    else:
        os.makedirs(app.instance_path, exist_ok=True)
        huey = SqliteHuey(
            "virtual-meetings-portal", filename=os.path.join(app.instance_path, "huey.db")
        )
    huey.immediate = bool(app.config.get("HUEY_IMMEDIATE"))

    zoom = gateway(app)

    def in_app(fn):
        with app.app_context(), database.connection_context():
            return fn()

    # Hourly, a few minutes past the hour: every center gets its day's sessions
    # shortly after its local midnight; existing ones cost no Zoom call. The tutors are
    # split into batches of PROVISION_BATCH_SIZE, one provision_daily_batch task each, so
    # every consumer takes a share; the tutor-day claim keeps it one meeting per tutor-day
    # however many runs overlap, and a batch lost with its consumer is the next hour's.
    @huey.periodic_task(crontab(minute="5"), name="provision_daily_sessions")
    def provision_daily_sessions():
        queued = in_app(lambda: daily.provision_spread(app))
        log.info("provisioning: %s tutor(s) in %s batch(es)", queued["tutors"], queued["batches"])
        return {"tutors": queued["tutors"], "batches": queued["batches"]}

    @huey.task(name="provision_daily_batch")
    def provision_daily_batch(tutor_ids, day=None):
        when = datetime.date.fromisoformat(day) if day else None
        report = in_app(lambda: daily.provision(zoom, day=when, tutor_ids=tutor_ids))
        counts = {k: len(v) for k, v in report.items()}
        if counts["failed"] or counts["created"] or counts["adopted"]:
            log.info("provisioned a batch: %s", counts)
        return counts

    @huey.periodic_task(crontab(minute="*/15"), name="retry_revocations")
    def retry_revocations():
        return in_app(lambda: retry_pending_revocations(zoom.settings, zoom.http()))

    @huey.periodic_task(crontab(minute="30", hour="*/6"), name="purge_sessions")
    def purge_sessions():
        return in_app(purge_expired)

    @huey.periodic_task(crontab(minute="17"), name="purge_login_attempts")
    def purge_login_attempts():
        return in_app(purge_old_attempts)

    @huey.periodic_task(crontab(minute="23", hour="3"), name="purge_password_links")
    def purge_password_links():
        return in_app(purge_old_password_links)

    # Backups (portal.backup): every BACKUP_EVERY_HOURS into BACKUP_DIR, the newest
    # BACKUP_KEEP kept; does nothing while BACKUP_DIR is unset.
    every = min(24, max(1, int(app.config.get("BACKUP_EVERY_HOURS") or 6)))

    @huey.periodic_task(crontab(minute="45", hour=f"*/{every}"), name="backup_database")
    def backup_database():
        done = periodic_backup(app.config)
        if done:
            log.info("backup written: %s", done)
        return done

    # Enqueued by POST /webhooks/zoom right after it committed a new delivery; the
    # minutely run picks up anything whose enqueue was lost. Zoom is never called.
    # Nothing is returned, so no result piles up in huey's store per delivery.
    def apply_webhooks():
        counts = in_app(process_pending)
        if counts:
            log.info("webhook deliveries processed: %s", counts)

    @huey.task(name="process_webhooks")
    def process_webhooks():
        apply_webhooks()

    @huey.periodic_task(crontab(minute="*"), name="sweep_webhooks")
    def sweep_webhooks():
        apply_webhooks()

    # Health checks (issue 6): every 30 minutes, and "Run health check now" from the
    # dashboard when HEALTH_SCAN_RUNNER is "huey". One scan at a time (the row's lock),
    # spread over the consumers in batches of HEALTH_SCAN_BATCH_SIZE tutors
    # (run_health_scan_batch); the last batch done concludes the scan.
    @huey.periodic_task(crontab(minute="*/30"), name="health_scan")
    def health_scan():
        def scan():
            try:
                row = runs.claim(trigger="schedule", lease=runs.lease_seconds(app))
            except runs.ScanBusy:
                return None
            batches = runs.execute_spread(app, row.id)
            return {"scan": row.id, "batches": len(batches or ())}

        return in_app(scan)

    # Join or the tutor's panel hit Zoom's slowness within its time budget: finish here,
    # without that budget, through the same claim protocol (retried while Zoom recovers).
    @huey.task(name="prepare_daily_session")
    def prepare_daily_session(tutor_id, attempt=1):
        def run():
            tutor = User.get_or_none(User.id == tutor_id)
            if tutor is None:
                return "no such tutor"
            try:
                result = daily.ensure_daily_session(tutor, zoom)
            except DailySession.DoesNotExist:
                # The tutor's day was removed while this job ran (tutor deleted, tables
                # emptied): nothing is left to prepare, and nothing to retry.
                return "gone"
            waiting = result.outcome == "busy" or isinstance(result.error, daily.TRANSIENT)
            if waiting and attempt < PREPARE_ATTEMPTS and tutor.home_center() is not None:
                # Zoom is still slow, or the retry wait after an unsure create is running.
                prepare_daily_session.schedule((tutor_id, attempt + 1), delay=PREPARE_DELAY)
            return result.outcome

        return in_app(run)

    @huey.task(name="run_health_scan")
    def run_health_scan(scan_id):
        in_app(lambda: runs.execute_spread(app, scan_id))

    @huey.task(name="run_health_scan_batch")
    def run_health_scan_batch(batch_id):
        in_app(lambda: runs.execute_batch(app, batch_id))

    # A batch whose consumer died (its lease lapsed) or whose task was lost is queued again.
    @huey.periodic_task(crontab(minute="*"), name="sweep_health_batches")
    def sweep_health_batches():
        again = in_app(lambda: runs.sweep(app))
        if again:
            log.info("health scan batches queued again: %s", again)
        return len(again)

    # E-mail (issue 13): right after a booking, cancellation or alert (``deliver_mail``),
    # and every minute: due reminders, anything whose wake-up was lost, retries.
    @huey.task(name="deliver_mail")
    def deliver_mail():
        in_app(lambda: deliver_due(app))

    @huey.periodic_task(crontab(minute="*"), name="send_reminders")
    def send_reminders():
        report = in_app(lambda: run_send_reminders(app))
        if report["due"] or report["sent"] or report["retry"] or report["failed"]:
            log.info("send-reminders: %s", report)

    @huey.periodic_task(crontab(minute="*"), name="before_shift_check")
    def before_shift_check():
        counts = in_app(lambda: run_before_shift_check(app))
        if any(counts.values()):
            log.info("before-shift check: %s", counts)

    huey.portal_tasks = {
        "deliver_mail": deliver_mail,
        "send_reminders": send_reminders,
        "before_shift_check": before_shift_check,
        "provision_daily_sessions": provision_daily_sessions,
        "provision_daily_batch": provision_daily_batch,
        "retry_revocations": retry_revocations,
        "purge_sessions": purge_sessions,
        "purge_login_attempts": purge_login_attempts,
        "purge_password_links": purge_password_links,
        "backup_database": backup_database,
        "process_webhooks": process_webhooks,
        "sweep_webhooks": sweep_webhooks,
        "health_scan": health_scan,
        "run_health_scan": run_health_scan,
        "run_health_scan_batch": run_health_scan_batch,
        "sweep_health_batches": sweep_health_batches,
        "prepare_daily_session": prepare_daily_session,
    }
    return huey
