"""The health dashboard: findings, "Run health check now", fixes, a tutor's view, CSV exports.

Scope: an account administrator sees everything; a center administrator only the
findings of their centers (``dashboard.scoped``) and their centers' tutors. A
finding, scan or tutor outside that scope is a 404, for fragment and fix endpoints
alike (the blueprint's role gate runs first). Every fix is a POST (CSRF-checked),
answered with the re-rendered finding for htmx or a 303 back to it otherwise.
"""

import datetime

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from .. import appointments, daily, join, labels, readiness
from ..auth.access import visible_centers
from ..clock import day_bounds
from ..db import database
from ..health import dashboard, demo, export, fixes, notices, runs
from ..health.checks import ALL, BY_NAME, title
from ..models import (
    AuditEntry,
    Finding,
    HealthScan,
    JoinEvent,
    Membership,
    User,
    ZoomConnection,
    utcnow,
)
from ..rendering import render, wants_partial
from ..zoom.wiring import gateway
from .views import bp


def _app():
    return current_app._get_current_object()


def _centers():
    """None for an account administrator (every center), else the admin's center ids."""
    if current_user.role == "account_admin":
        return None
    return {c.id for c in visible_centers(current_user)}


def _finding_or_404(finding_id):
    finding = dashboard.finding_or_none(finding_id, _centers())
    if finding is None:
        abort(404)
    return finding


def _manageable(tutor_ids):
    """The subset of tutor_ids this admin manages (a shared center, or account admin)."""
    centers = _centers()
    query = User.select(User.id).where(User.id.in_(list(tutor_ids)), User.role == "tutor")
    if centers is not None:
        members = Membership.select(Membership.user).where(Membership.center.in_(list(centers)))
        query = query.where(User.id.in_(members))
    return {row[0] for row in query.tuples()}


def _tutor_or_404(tutor_id):
    if tutor_id not in _manageable([tutor_id]):
        abort(404)
    return User.get_by_id(tutor_id)


def _scan_context(scan=None):
    centers = _centers()
    scan = scan or runs.active()
    if scan is not None and not runs.visible(scan, centers):
        scan = None
    last = runs.last_finished(centers)
    return {
        "scan": scan,
        "last": last,
        # a center admin sees figures only of scans of their own centers
        "scan_figures": scan is not None and runs.progress_visible(scan, centers),
        "last_figures": last is not None and runs.progress_visible(last, centers),
    }


def _summary_context():
    centers = _centers()
    bars, top = dashboard.chart(dashboard.trend(centers))
    return {
        "summary": dashboard.summary(centers),
        "ready": dashboard.readiness(centers),
        "bars": bars,
        "top": top,
    }


def _findings_context(filters):
    rows, total, number, pages = dashboard.page(_centers(), filters)
    return {
        "filters": filters,
        "rows": rows,
        "total": total,
        "page_number": number,
        "pages": pages,
        "centers": list(visible_centers(current_user)),
        "catalogue": [(m.NAME, m.TITLE) for m in ALL],
        "check_title": title,
    }


@bp.route("/admin/health")
def health_dashboard():
    """Summary, readiness, trend, the scan button and the findings table (htmx: the table)."""
    if current_app.debug and current_app.config.get("ZOOM_SIMULATOR"):
        demo.ensure_zoom_side(_app())  # make run: the demo's broken tutors get their Zoom side
    filters = dashboard.Filters.parse(request.args, _centers())
    context = _findings_context(filters)
    if not wants_partial():
        context.update(_summary_context(), **_scan_context())
    return render("admin/health.html", "admin/partials/health_findings.html", **context)


@bp.route("/admin/health/summary")
def health_summary():
    """The cards, readiness lines and trend (htmx refreshes them after a scan or fix)."""
    context = _summary_context()
    if not wants_partial():
        return redirect(url_for("admin.health_dashboard"), 303)
    return render("admin/health.html", "admin/partials/health_summary.html", **context)


@bp.route("/admin/health/scans", methods=["POST"])
def health_scan_start():
    """Run health check now: start a scan in the background (or show the running one)."""
    scan, started = runs.start(_app(), current_user, _centers(), "manual")
    if wants_partial():
        return render(
            "admin/health_scan.html", "admin/partials/health_scan.html", **_scan_context(scan)
        )
    flash(
        "Health check started." if started else "A health check is already running.",
        "success" if started else "warning",
    )
    return redirect(url_for("admin.health_dashboard"), 303)


@bp.route("/admin/health/scans/<int:scan_id>")
def health_scan_status(scan_id):
    """A scan's progress (htmx polls it every second until it is finished)."""
    scan = HealthScan.get_or_none(HealthScan.id == scan_id)
    if scan is None or not runs.visible(scan, _centers()):
        abort(404)
    response = render(
        "admin/health_scan.html", "admin/partials/health_scan.html", **_scan_context(scan)
    )
    if scan.lock is None and wants_partial():
        response.headers["HX-Trigger"] = "health-scan-done"
    return response


def _finding_context(finding, message=None, error=None):
    module = BY_NAME.get(finding.check)
    tutor = User.get_or_none(User.id == finding.tutor_id) if finding.tutor_id else None
    linked = []
    if finding.check == "duplicate_authorization" and finding.resolved_at is None:
        connections = fixes.linked_connections(finding)
        mine = _manageable(c.tutor_id for c in connections)
        names = {u.id: u for u in User.select().where(User.id.in_(list(mine)))}
        newest = max((c.connected_at for c in connections), default=None)
        linked = [(c, names.get(c.tutor_id), c.connected_at == newest) for c in connections]
    history = (
        AuditEntry.select()
        .where(
            AuditEntry.action.startswith("health."),
            AuditEntry.target_type == "User",
            AuditEntry.target_id == finding.tutor_id,
            AuditEntry.created_at >= finding.first_seen,
        )
        .order_by(AuditEntry.created_at.desc())
        .limit(20)
    )
    evidence = finding.evidence or {}
    if "linked" in evidence:  # other centers' tutors stay anonymous
        mine = _manageable(row.get("tutor_id") for row in evidence["linked"])
        evidence = dict(
            evidence,
            linked=[
                row if row.get("tutor_id") in mine else dict(row, tutor_id="another center")
                for row in evidence["linked"]
            ],
        )
    history = [e for e in history if (e.after or {}).get("finding") == finding.id]
    people = labels.user_ids_in(evidence, *(d for e in history for d in (e.before, e.after)))
    mine = _manageable(people)
    names = {u.id: u.name for u in User.select().where(User.id.in_(list(mine)))} if mine else {}
    return {
        "finding": finding,
        "evidence": evidence,
        "names": names,
        "module": module,
        "tutor": tutor,
        "fixes": _allowed(finding),
        "labels": fixes.LABELS,
        "linked": linked,
        "notice_sent": notices.last_sent(finding),
        "history": history,
        "reopened": fixes.still_open(finding) if finding.resolved_at else None,
        "message": message,
        "error": error,
        "check_title": title,
        "format_number": daily.format_meeting_number,
    }


def _allowed(finding):
    """The fixes offered for this finding."""
    if finding.resolved_at is not None:
        evidence = finding.evidence or {}
        undo = finding.check == "stale_connect_link" and evidence.get("connect_link")
        tutor_link = (
            User.select(User.connect_link).where(User.id == finding.tutor_id).scalar()
            if finding.tutor_id
            else None
        )
        return (fixes.UNDO,) if undo and not tutor_link else ()
    module = BY_NAME.get(finding.check)
    return module.FIXES if module else ("notify_reconnect", "reverify")


@bp.route("/admin/health/findings/<int:finding_id>")
def health_finding(finding_id):
    """What a finding means, its evidence, the help article's steps and the fixes."""
    finding = _finding_or_404(finding_id)
    return render(
        "admin/health_finding.html",
        "admin/partials/health_finding.html",
        **_finding_context(finding),
    )


@bp.route("/admin/health/findings/<int:finding_id>/fix/<name>", methods=["POST"])
def health_fix(finding_id, name):
    """Apply one fix to a finding (audited; the tutor is re-checked right after)."""
    finding = _finding_or_404(finding_id)
    if name not in _allowed(finding) or name not in fixes.FIXES:
        abort(404)
    if name == "recreate_session" and request.form.get("confirm") != "1":
        # A new meeting number for students who already have today's: say so, ask first.
        return render(
            "admin/health_finding.html",
            "admin/partials/health_finding.html",
            **_finding_context(finding),
            confirm_recreate=_recreate_impact(finding),
        )
    message = error = None
    try:
        if name == "keep_authorization":
            linked = {c.tutor_id for c in fixes.linked_connections(finding)}
            keep = request.form.get("keep", "")
            message = fixes.keep_authorization(
                _app(), finding, current_user, keep, _manageable(linked)
            )
        else:
            message = fixes.FIXES[name](_app(), finding, current_user)
    except fixes.FixError as exc:
        error = str(exc)
    finding = _finding_or_404(finding_id)
    if wants_partial():
        response = render(
            "admin/health_finding.html",
            "admin/partials/health_finding.html",
            status=400 if error else 200,
            **_finding_context(finding, message, error),
        )
        response.headers["HX-Trigger"] = "health-fixed"
        return response
    flash(error or message, "error" if error else "success")
    return redirect(url_for("admin.health_finding", finding_id=finding.id), 303)


def _recreate_impact(finding):
    """Who has today's meeting number already: counts for the confirmation (database only)."""
    tutor = User.get_or_none(User.id == finding.tutor_id) if finding.tutor_id else None
    center = tutor.home_center() if tutor else None
    if center is None:
        return {"number": None, "today": 0, "walk_ins": 0, "joined": 0}
    session = daily.today_session(tutor, center)
    number = session.zoom_meeting_id if session else None
    today, _ahead, walk_ins = appointments.online_still_ahead(center, tutor=tutor)
    start, end = center.day_bounds(center.today())
    joined = 0
    if number:
        joined = (
            JoinEvent.select(JoinEvent.student)
            .where(
                JoinEvent.tutor == tutor.id,
                JoinEvent.meeting_id == number,
                JoinEvent.created_at >= start,
                JoinEvent.created_at < end,
            )
            .distinct()
            .count()
        )
    return {"number": number, "today": today, "walk_ins": walk_ins, "joined": joined}


def _tutor_context(tutor):
    """A tutor's connection, today's session, open findings and last week's Joins."""
    center = tutor.finding_center()
    zone = center.timezone if center else "UTC"
    today = center.today() if center else utcnow().date()
    start, end = day_bounds(zone, today)
    open_findings = dashboard.filtered(_centers(), dashboard.Filters(status="open")).where(
        Finding.tutor == tutor.id
    )
    return {
        "tutor": tutor,
        "rows": None,
        "center": center,
        "connection": ZoomConnection.for_tutor(tutor),
        "session": daily.today_session(tutor, center) if center else None,
        "findings": list(open_findings.order_by(Finding.last_seen.desc())),
        "events": list(
            join.events(None, start - datetime.timedelta(days=6), end, tutor.id, limit=100)
        ),
        "timezone": zone,
        "format_number": daily.format_meeting_number,
        "reasons": join.REASONS,
        "destinations": join.DESTINATIONS,
        "show_tutor": False,
        "check_title": title,
    }


@bp.route("/admin/health/tutors/<int:tutor_id>")
def health_tutor(tutor_id):
    """One tutor: the readiness checklist the tutor sees (on request), findings, Joins."""
    tutor = _tutor_or_404(tutor_id)
    context = _tutor_context(tutor)
    if not request.args.get("run"):
        return render("admin/health_tutor.html", **context)
    context["rows"] = readiness.check_tutor(tutor, gateway())
    return render("admin/health_tutor.html", "admin/partials/health_checklist.html", **context)


def _csv(make_chunks, filename):
    """A CSV download streamed in chunks, on its own connection (the request's is closed by
    the time a streamed body is read)."""

    def generate():
        with database.connection_context():
            yield from make_chunks()

    response = current_app.response_class(
        generate(), mimetype="text/csv", headers={"Cache-Control": "no-store"}
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/admin/health/findings.csv")
def health_findings_csv():
    """The findings matching the dashboard's filters, as CSV."""
    filters = dashboard.Filters.parse(request.args, _centers())
    query = dashboard.filtered(_centers(), filters)
    return _csv(lambda: export.findings_csv(query), f"findings-{utcnow():%Y%m%d-%H%M}.csv")


@bp.route("/admin/health/audit.csv")
def health_audit_csv():
    """The audit log of the admin's centers (everything for an account admin), as CSV."""
    query = AuditEntry.select()
    centers = _centers()
    if centers is not None:
        query = query.where(AuditEntry.center.in_(list(centers)))
    return _csv(lambda: export.audit_csv(query), f"audit-{utcnow():%Y%m%d-%H%M}.csv")
