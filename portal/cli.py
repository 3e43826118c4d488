"""`flask --app wsgi portal …`: the command-line contract of DESIGN §8.

Every command validates its input and exits non-zero with a one-line reason.
"""

import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from . import accounts, appointments, backup, clock, daily, doctor, migrate
from .db import database
from .health import dashboard, export, runs
from .health import demo as health_demo
from .health.checks import title
from .join.export import joins_csv
from .models import AuditEntry, Center, User
from .notifications import before_shift_check, send_reminders
from .validation import ValidationError
from .zoom import rotate_keys
from .zoom.errors import ZoomConfigError
from .zoom.wiring import gateway

portal_cli = AppGroup("portal", help="Virtual Meetings Portal administration.")

DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = [
    # email, name, role, centers
    ("admin@demo.edu", "Alex Account-Admin", "account_admin", []),
    ("math.admin@demo.edu", "Morgan Math-Admin", "center_admin", ["Math Center"]),
    ("writing.admin@demo.edu", "Wren Writing-Admin", "center_admin", ["Writing Center"]),
    ("tutor@demo.edu", "Taylor Tutor", "tutor", ["Math Center"]),
    ("tutor2@demo.edu", "Jordan Tutor", "tutor", ["Math Center"]),
    ("writing.tutor@demo.edu", "Riley Writing-Tutor", "tutor", ["Writing Center"]),
    ("student@demo.edu", "Sam Student", "student", ["Math Center", "Writing Center"]),
    ("student2@demo.edu", "Casey Student", "student", ["Math Center"]),
]


def fail(message):
    """Print a one-line reason and exit with status 1."""
    raise click.ClickException(message)


def _run(fn, *args, **kwargs):
    try:
        with database.connection_context():
            return fn(*args, **kwargs)
    except ValidationError as exc:
        fail(str(exc))


@portal_cli.command("init-db")
def init_db():
    """Create or upgrade the schema (never drops data)."""
    with database.connection_context():
        applied = migrate.upgrade()
    click.echo(f"Database ready ({len(applied)} migration(s) applied).")


def load_demo():
    """Create the sample institution; returns the users created."""
    math = accounts.create_center("Math Center", "America/New_York")
    accounts.update_center_settings(math, None, virtual_meetings_enabled=True)
    accounts.create_center("Writing Center", "America/Chicago")
    created = []
    for email, name, role, center_names in DEMO_USERS:
        centers = [accounts.center_by_name(n) for n in center_names]
        created.append(accounts.create_user(email, name, role, DEMO_PASSWORD, centers=centers))
    tutor2 = User.by_email("tutor2@demo.edu")
    # A stale personal-room link, the classic misconfiguration the portal detects.
    accounts.set_connect_link(tutor2, "https://zoom.us/j/5551234567")
    if current_app.config.get("ZOOM_SIMULATOR"):
        # Broken tutors for the health dashboard; their Zoom side is made in the server
        # process the first time an administrator opens Health (portal/health/demo.py).
        created.extend(health_demo.add_people())
    return created


@portal_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no users.")
def demo(if_empty):
    """Load the sample institution and print the demo logins."""
    with database.connection_context():
        if User.select().exists():
            if if_empty:
                _print_logins()
                return
            fail("The database already has users; run demo on an empty database.")
        _run(load_demo)
    click.echo("Demo institution loaded: Math Center (Virtual Meetings on), Writing Center.")
    if current_app.config.get("ZOOM_SIMULATOR"):
        click.echo("Math Center also has broken tutors: open Health as an administrator.")
    _print_logins()


def _print_logins():
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, _name, role, centers in DEMO_USERS:
        where = ", ".join(centers) or "all centers"
        click.echo(f"  {email:<26} {role:<14} {where}")


@portal_cli.command("create-center")
@click.argument("name")
@click.option("--timezone", default="America/New_York", show_default=True)
def create_center(name, timezone):
    """Create a center."""
    center = _run(accounts.create_center, name, timezone)
    click.echo(f"Created center {center.name} ({center.timezone}).")


@portal_cli.command("create-user")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", required=True, help="student, tutor, center_admin or account_admin")
@click.option("--password", required=True)
@click.option("--center", "center_names", multiple=True, help="Center name (repeatable).")
def create_user(email, name, role, password, center_names):
    """Create a user and add them to centers."""

    def go():
        centers = [accounts.center_by_name(n) for n in center_names]
        return accounts.create_user(email, name, role, password, centers=centers)

    user = _run(go)
    click.echo(f"Created {user.role} {user.email}.")


@portal_cli.command("enable-virtual-meetings")
@click.argument("center_name")
def enable_virtual_meetings(center_name):
    """Switch Virtual Meetings on for a center."""

    def go():
        center = accounts.center_by_name(center_name)
        accounts.update_center_settings(center, None, virtual_meetings_enabled=True)
        return center

    center = _run(go)
    click.echo(f"Virtual Meetings enabled for {center.name}.")


@portal_cli.command("set-connect-link")
@click.argument("email")
@click.argument("url")
def set_connect_link(email, url):
    """Set a tutor's Connect Link (an empty string clears it)."""

    def go():
        tutor = appointments.user_or_error(email, "tutor")
        return accounts.set_connect_link(tutor, url)

    value = _run(go)
    click.echo(f"Connect Link for {email}: {value or '(cleared)'}")


@portal_cli.command("book")
@click.argument("student_email")
@click.argument("tutor_email")
@click.option("--kind", default="online", show_default=True)
@click.option("--at", "at", required=True, help="Start, ISO format; naive = center time.")
@click.option("--minutes", default=30, show_default=True, type=int)
@click.option("--center", "center_name", default=None)
def book(student_email, tutor_email, kind, at, minutes, center_name):
    """Book an appointment for a student with a tutor."""

    def go():
        student = appointments.user_or_error(student_email, "student")
        tutor = appointments.user_or_error(tutor_email, "tutor")
        return appointments.book(student, tutor, kind, at, minutes, center_name)

    appt = _run(go)
    click.echo(f"Booked appointment {appt.id}: {kind} at {appt.start_at.isoformat()}Z.")


@portal_cli.command("rotate-keys")
def rotate_keys_command():
    """Re-encrypt every stored Zoom token under the first TOKEN_ENCRYPTION_KEYS key."""
    try:
        with database.connection_context():
            count = rotate_keys(gateway().settings)
    except ZoomConfigError as exc:
        fail(str(exc))
    click.echo(f"Re-encrypted {count} Zoom connection(s) under the first key.")


@portal_cli.command("provision")
@click.option("--date", "day", default=None, help="YYYY-MM-DD; default: today in each center.")
@click.option(
    "--spread",
    is_flag=True,
    help="Hand the tutors to the job consumers in batches (PROVISION_BATCH_SIZE) and wait.",
)
@click.option(
    "--timeout", default=600, show_default=True, type=click.IntRange(1), help="With --spread."
)
def provision_command(day, spread, timeout):
    """Create today's (or DATE's) Daily Session for every connected tutor."""
    if day is not None:
        try:
            day = datetime.date.fromisoformat(day)
        except ValueError:
            fail(f"{day!r} is not a date; use YYYY-MM-DD.")
    if spread:
        _provision_spread(day, timeout)
        return
    with database.connection_context():
        report = daily.provision(gateway(), day=day)
    for outcome in ("created", "adopted", "existing", "busy", "failed"):
        for line in report[outcome]:
            click.echo(f"{outcome:<9} {line}")
    counts = ", ".join(f"{len(v)} {k}" for k, v in report.items())
    click.echo(f"Provisioned Daily Sessions: {counts}.")
    if report["failed"]:
        raise SystemExit(1)


def _provision_spread(day, timeout):
    app = current_app._get_current_object()
    with database.connection_context():
        try:
            queued = daily.provision_spread(app, day=day)
        except Exception as exc:  # noqa: BLE001 - the queue's own errors vary by storage
            fail(f"The job queue could not be reached ({type(exc).__name__}): {QUEUE_ADVICE}")
    try:
        totals = daily.wait_provisioned(queued["results"], timeout=timeout)
    except TimeoutError:
        fail(
            f"Provisioning is still running after {timeout} s: is a job consumer running "
            "(make worker)?"
        )
    counts = ", ".join(f"{count} {outcome}" for outcome, count in totals.items())
    click.echo(
        f"Provisioned Daily Sessions over the job consumers "
        f"({queued['tutors']} tutor(s) in {queued['batches']} batch(es)): {counts}."
    )
    if totals["failed"]:
        raise SystemExit(1)


QUEUE_ADVICE = "start the job queue's Redis or fix HUEY_REDIS_URL, then try again."


def _center_id(name):
    try:
        return accounts.center_by_name(name).id
    except ValidationError as exc:
        fail(str(exc))


@portal_cli.command("health-scan")
@click.option("--center", "center_name", default=None, help="Only this center's tutors.")
@click.option(
    "--spread",
    is_flag=True,
    help="Hand the scan to the job consumers in batches (HEALTH_SCAN_BATCH_SIZE) and wait.",
)
@click.option(
    "--timeout", default=3600, show_default=True, type=click.IntRange(1), help="With --spread."
)
def health_scan_command(center_name, spread, timeout):
    """Run every health check now and print what changed."""
    if spread:
        _health_scan_spread(center_name, timeout)
        return
    with database.connection_context():
        centers = [_center_id(center_name)] if center_name is not None else None
        try:
            app = current_app._get_current_object()  # the scan's worker threads need the app
            scan, report = runs.run_now(app, centers=centers, trigger="cli")
        except runs.ScanBusy as busy:
            fail(f"A health check is already running (scan {busy.scan.id}); try again later.")
    click.echo(
        f"Health check done: {report.tutors} tutor(s) checked with Zoom in "
        f"{report.calls} call(s); {report.opened} new, {report.refreshed} still present, "
        f"{report.resolved} resolved."
    )
    for check, count in sorted(report.open_by_check.items()):
        click.echo(f"  {count:>5}  {title(check)} ({check})")
    if report.unchecked:
        click.echo(f"Zoom could not be asked about {report.unchecked} tutor(s) (could_not_check).")
    if report.skipped:
        click.echo(f"Skipped (no data yet): {', '.join(report.skipped)}.")


def _health_scan_spread(center_name, timeout):
    app = current_app._get_current_object()
    with database.connection_context():
        centers = [_center_id(center_name)] if center_name is not None else None
        try:
            scan = runs.start_spread(app, centers=centers, trigger="cli")
        except runs.ScanBusy as busy:
            fail(f"A health check is already running (scan {busy.scan.id}); try again later.")
        except Exception as exc:  # noqa: BLE001 - the queue's own errors vary by storage
            fail(f"The job queue could not be reached ({type(exc).__name__}): {QUEUE_ADVICE}")
        row = runs.wait(scan.id, timeout=timeout)
    if row.lock is not None:
        fail(
            f"The health check (scan {row.id}) is still running after {timeout} s; its "
            "progress is on the Health page. Is a job consumer running (make worker)?"
        )
    if row.status != "done":
        fail(f"The health check (scan {row.id}) failed: {row.error or 'no reason recorded'}.")
    click.echo(
        f"Health check done over the job consumers ({row.batches} batch(es)): {row.total} "
        f"tutor(s) checked with Zoom in {row.calls} call(s); {row.opened} new, "
        f"{row.refreshed} still present, {row.resolved} resolved."
    )
    if row.unchecked:
        click.echo(f"Zoom could not be asked about {row.unchecked} tutor(s) (could_not_check).")


@portal_cli.command("findings")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option(
    "--status", type=click.Choice(["open", "resolved", "all"]), default="open", show_default=True
)
@click.option("--center", "center_name", default=None, help="Only this center's findings.")
def findings_command(fmt, status, center_name):
    """Print findings as CSV: check,severity,center,tutor_email,detail,first_seen,last_seen."""
    with database.connection_context():
        centers = {_center_id(center_name)} if center_name is not None else None
        query = dashboard.filtered(centers, dashboard.Filters(status=status))
        for chunk in export.findings_csv(query):
            click.echo(chunk, nl=False)


@portal_cli.command("audit-log")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
def audit_log_command(fmt):
    """Print the whole audit log as CSV (time,actor,action,center,target,before,after)."""
    with database.connection_context():
        for chunk in export.audit_csv(AuditEntry.select()):
            click.echo(chunk, nl=False)


@portal_cli.command("joins")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("--date", "day", default=None, help="YYYY-MM-DD: one day (the center's, or UTC).")
@click.option("--center", "center_name", default=None, help="Only this center's Joins.")
def joins_command(fmt, day, center_name):
    """Print who was sent where as CSV: time,student_email,tutor_email,center,destination,
    meeting_id,reason (time in UTC)."""
    with database.connection_context():
        center = None
        if center_name is not None:
            center = Center.get_by_id(_center_id(center_name))
        start = end = None
        if day is not None:
            try:
                date = datetime.date.fromisoformat(day)
                start, end = clock.day_bounds(center.timezone if center else "UTC", date)
            except (ValueError, OverflowError):
                fail(f"--date must be a date like 2026-12-01, not {day!r}.")
        for chunk in joins_csv(start, end, {center.id} if center else None):
            click.echo(chunk, nl=False)


def register_cli(app):
    """Attach the portal command group to the app."""
    app.cli.add_command(portal_cli)


@portal_cli.command("doctor")
def doctor_command():
    """Check this deployment's settings offline (no call to Zoom); exit 1 if any fails."""
    results = doctor.run_checks(current_app)
    for line in doctor.report_lines(results):
        click.echo(line)
    if not doctor.all_ok(results):
        raise SystemExit(1)


@portal_cli.command("send-reminders")
def send_reminders_command():
    """Send what is due now: reminders, queued confirmations and alerts, retries (idempotent)."""
    with database.connection_context():
        report = send_reminders(current_app._get_current_object())
    click.echo(
        f"send-reminders: {report['due']} reminder(s) due; {report['sent']} sent, "
        f"{report['retry']} to retry, {report['failed']} failed, {report['skipped']} no longer due."
    )
    if not report["can_send"]:
        click.echo(
            "E-mail is not set up (MAIL_URL is empty), so messages wait in the outbox. "
            "In development, run with FLASK_DEBUG=1 to see them on the outbox page."
        )


@portal_cli.command("before-shift-check")
def before_shift_check_command():
    """Check the Zoom setup of tutors whose first online appointment today starts soon."""
    with database.connection_context():
        counts = before_shift_check(current_app._get_current_object())
    click.echo(
        f"Before-shift check: {counts['ready']} ready, {counts['alerted']} alerted, "
        f"{counts['unchecked']} could not be checked (tried again in a few minutes)."
    )


@portal_cli.command("backup")
@click.argument("path")
def backup_command(path):
    """Back up the database to PATH (a new file, or a folder), safely while the portal runs."""
    try:
        result = backup.backup(current_app.config["DATABASE_URL"], path)
    except backup.BackupError as exc:
        fail(str(exc))
    rows = f", {sum(result.rows.values())} rows in {len(result.rows)} tables" if result.rows else ""
    click.echo(
        f"Backed up to {result.path} ({result.size / 1e6:.1f} MB{rows}) in {result.seconds:.1f} s."
    )


@portal_cli.command("restore")
@click.argument("path")
@click.option(
    "--yes-the-portal-is-stopped",
    "confirmed",
    is_flag=True,
    help="Confirm the web server and the job consumer are stopped.",
)
def restore_command(path, confirmed):
    """Replace the database with the backup at PATH (only with the portal stopped)."""
    database.close()
    close_all = getattr(database.obj, "close_all", None)
    if close_all is not None:
        close_all()  # this command's own pooled connection must not count as "the portal"
    try:
        result = backup.restore(current_app.config["DATABASE_URL"], path, confirmed)
    except backup.BackupError as exc:
        fail(str(exc))
    click.echo(f"Restored {path} in {result.seconds:.1f} s.")
    if result.replaced:
        click.echo(f"The database it replaced is kept as {result.replaced}.")
    click.echo(
        "Next: `flask --app wsgi portal init-db` (newer migrations) and `portal doctor`, "
        "then start the portal."
    )
