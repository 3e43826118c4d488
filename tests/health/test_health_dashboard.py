"""The Health dashboard: who sees what, the scan button and its progress, filters, exports."""

import csv
import io
import time

import pytest
from support import make_user
from support.health import connect, health_config, opened, scan

from portal.health import findings, runs
from portal.jobs import create_huey
from portal.models import AuditEntry, Center, Finding, HealthScan, User, ZoomConnection


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


def _finding(world, center_key, tutor_key, check="same_device", severity="info", detail="x"):
    tutor = world[tutor_key]
    key = findings.tutor_key(check, tutor.id)
    return findings.open_finding(check, key, severity, world[center_key], tutor, detail)


@pytest.fixture
def two_centers(world):
    """One finding in each center."""
    return _finding(world, "a", "tutor_a", detail="A's problem"), _finding(
        world, "b", "tutor_b", detail="B's problem"
    )


def test_dashboard_shows_cards_readiness_trend_and_last_scan(app, auth, world, login_as):
    connect(app, world["tutor_a"], "licensed")
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    runs.run_now(app)
    login_as("admin_a")
    response = auth.get("/admin/health")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "Center A</strong>: 1 of 1 tutors ready today" in html
    assert 'data-check="stale_connect_link"' in html and "Zoom link left in Connect Link" in html
    assert "Last health check:" in html and "Run health check now" in html
    assert "<svg" in html and "style=" not in html.split("<svg", 1)[1].split("</svg>")[0]
    assert html.count('class="bar') == 14
    partial = auth.get("/admin/health", htmx=True).get_data(as_text=True)
    assert partial.startswith('<section id="health-findings"') and "<html" not in partial
    summary = auth.get("/admin/health/summary", htmx=True).get_data(as_text=True)
    assert summary.startswith('<section id="health-summary"')


def test_run_health_check_now_and_its_progress(app, auth, world, login_as):
    connect(app, world["tutor_a"], "licensed")
    login_as("admin_a")
    response = auth.post("/admin/health/scans", htmx=True, token_path="/admin/health")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith('<section id="health-scan"')
    scan_row = HealthScan.get()
    assert scan_row.status == "done" and scan_row.lock is None
    assert scan_row.centers == [world["a"].id] and scan_row.requested_by_id == world["admin_a"].id
    assert scan_row.total == 1 and scan_row.calls == 3 and scan_row.snapshots.count() == 1
    status = auth.get(f"/admin/health/scans/{scan_row.id}", htmx=True)
    assert status.headers["HX-Trigger"] == "health-scan-done"
    assert 'hx-trigger="every 1s"' not in status.get_data(as_text=True)
    plain = auth.post("/admin/health/scans", token_path="/admin/health")
    assert plain.status_code == 303 and HealthScan.select().count() == 2


def test_a_running_scan_polls_and_a_second_request_joins_it(app, auth, world, login_as):
    busy = runs.claim(None, None, "schedule")
    HealthScan.update(status="running", total=10, done=4).execute()
    login_as("admin_a")
    response = auth.post("/admin/health/scans", htmx=True, token_path="/admin/health")
    html = response.get_data(as_text=True)
    assert HealthScan.select().count() == 1
    assert f'hx-get="/admin/health/scans/{busy.id}"' in html and 'hx-trigger="every 1s"' in html
    # a scan of every center: a center admin sees it run, not its figures (test_health_lease)
    assert "4 of 10 connected tutors" not in html


def test_a_stale_scan_does_not_block_forever(app):
    busy = runs.claim()
    HealthScan.update(heartbeat_at=busy.created_at.replace(year=2000)).execute()
    fresh = runs.claim()
    assert fresh.id != busy.id and HealthScan.get_by_id(busy.id).status == "failed"


def test_background_thread_runner_finishes_without_holding_the_request(app, world):
    app.config["HEALTH_SCAN_RUNNER"] = "thread"
    connect(app, world["tutor_a"], "licensed")
    row, started = runs.start(app, world["admin_a"], None)
    assert started
    deadline = time.monotonic() + 20
    while HealthScan.get_by_id(row.id).lock is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert HealthScan.get_by_id(row.id).status == "done"


def test_huey_runner_and_the_periodic_scan(app, world):
    app.config.update(HEALTH_SCAN_RUNNER="huey", HUEY_IMMEDIATE=True)
    connect(app, world["tutor_a"], "licensed")
    row, _started = runs.start(app, world["admin_a"], None)
    assert HealthScan.get_by_id(row.id).status == "done"
    assert HealthScan.get_by_id(row.id).batches == 1  # the consumer ran it as one batch
    huey = create_huey(app)
    queued = huey.portal_tasks["health_scan"].call_local()
    (scheduled,) = HealthScan.select().where(HealthScan.trigger == "schedule")
    assert queued == {"scan": scheduled.id, "batches": 1}
    assert scheduled.status == "done" and scheduled.total == 1 and scheduled.opened == 0


# --- authorization ---------------------------------------------------------------------------


def test_center_admin_never_sees_another_centers_findings(app, auth, login_as, two_centers, world):
    mine, theirs = two_centers
    login_as("admin_a")
    html = auth.get("/admin/health?status=all").get_data(as_text=True)
    assert "A&#39;s problem" in html and "B&#39;s problem" not in html
    for url in (
        f"/admin/health/findings/{theirs.id}",
        f"/admin/health/tutors/{world['tutor_b'].id}",
        f"/admin/health/tutors/{world['tutor_b'].id}?run=1",
    ):
        assert auth.get(url).status_code == 404
        assert auth.get(url, htmx=True).status_code == 404
    assert auth.get(f"/admin/health?center={world['b'].id}").status_code == 200
    assert "B&#39;s problem" not in auth.get(f"/admin/health?center={world['b'].id}").get_data(
        as_text=True
    )
    assert auth.get(f"/admin/health/findings/{mine.id}").status_code == 200


@pytest.mark.parametrize("name", ["reverify", "notify_reconnect", "clear_connect_link"])
@pytest.mark.parametrize("htmx", [False, True])
def test_fix_endpoints_of_another_center_are_404(app, auth, login_as, two_centers, name, htmx):
    _mine, theirs = two_centers
    login_as("admin_a")
    response = auth.post(
        f"/admin/health/findings/{theirs.id}/fix/{name}", htmx=htmx, token_path="/admin/health"
    )
    assert response.status_code == 404
    assert Finding.get_by_id(theirs.id).resolved_at is None
    assert AuditEntry.select().where(AuditEntry.action.startswith("health.")).count() == 0


def test_scan_of_another_center_is_404_and_account_admin_sees_all(
    app, auth, login_as, two_centers, world
):
    other = runs.claim(world["admin_b"], [world["b"].id])
    login_as("admin_a")
    assert auth.get(f"/admin/health/scans/{other.id}").status_code == 404
    auth.logout()
    login_as("account_admin")
    html = auth.get("/admin/health?status=all").get_data(as_text=True)
    assert "A&#39;s problem" in html and "B&#39;s problem" in html
    assert auth.get(f"/admin/health/scans/{other.id}", htmx=True).status_code == 200


@pytest.mark.parametrize("who", ["tutor_a", "student_a"])
def test_tutors_and_students_cannot_open_health(app, auth, login_as, who):
    login_as(who)
    assert auth.get("/admin/health").status_code == 403
    assert auth.get("/admin/health/findings.csv").status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/health")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


# --- filters, pages, the tutor view ------------------------------------------------------------


def test_filters_and_pagination(app, auth, login_as, world):
    for n in range(30):
        tutor = make_user(f"t{n}@x.edu", "tutor", [world["a"]], name=f"Tutor {n:02d}")
        check, severity = ("free_account", "critical") if n % 3 == 0 else ("same_device", "info")
        findings.open_finding(
            check, findings.tutor_key(check, tutor.id), severity, world["a"], tutor, f"n{n}"
        )
    login_as("admin_a")
    first = auth.get("/admin/health", htmx=True).get_data(as_text=True)
    assert "Page 1 of 2" in first and first.count("data-finding=") == 25
    assert first.index("badge sev-critical") < first.index("badge sev-info")  # critical first
    second = auth.get("/admin/health?page=2", htmx=True).get_data(as_text=True)
    assert second.count("data-finding=") == 5
    only = auth.get("/admin/health?check=free_account", htmx=True).get_data(as_text=True)
    assert only.count("data-finding=") == 10
    assert (
        auth.get("/admin/health?severity=info").get_data(as_text=True).count("data-finding=") == 20
    )
    assert "No open findings" in auth.get("/admin/health?check=social_login").get_data(as_text=True)
    assert auth.get("/admin/health?status=resolved&page=abc").status_code == 200


def test_tutor_view_runs_the_same_checklist(app, auth, login_as, world):
    connect(app, world["tutor_a"], "licensed")
    login_as("admin_a")
    page = auth.get(f"/admin/health/tutors/{world['tutor_a'].id}").get_data(as_text=True)
    assert "Run the checks" in page and "Joins in the last 7 days" in page
    rows = auth.get(f"/admin/health/tutors/{world['tutor_a'].id}?run=1", htmx=True)
    html = rows.get_data(as_text=True)
    assert html.startswith('<div id="health-checklist">')
    assert 'data-check="session"' in html and 'data-check="licensed"' in html
    plain = auth.get(f"/admin/health/tutors/{world['tutor_a'].id}?run=1").get_data(as_text=True)
    assert "<html" in plain and 'data-check="session"' in plain and "Joins in the last" in plain


# --- exports ---------------------------------------------------------------------------------

HEADER = "check,severity,center,tutor_email,detail,first_seen,last_seen"


def _rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_findings_csv_columns_and_formula_escaping(app, auth, login_as, world):
    nasty = make_user('=cmd|"/c calc"!A1,x@x.edu', "tutor", [world["a"]], name="Nasty")
    detail = '+SUM(1,2) said "hi",\nthen -1 and @me'
    findings.open_finding(
        "same_device",
        findings.tutor_key("same_device", nasty.id),
        "info",
        world["a"],
        nasty,
        detail,
    )
    _finding(world, "b", "tutor_b", detail="B's problem")
    login_as("admin_a")
    response = auth.get("/admin/health/findings.csv")
    text = response.get_data(as_text=True)
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    assert text.splitlines()[0] == HEADER
    (header, row) = _rows(text)  # B's finding is not in A's export
    assert row[0] == "same_device" and row[2] == "Center A"
    assert row[3] == "'" + nasty.email and row[4] == "'" + detail
    assert row[5].endswith("Z") and row[6].endswith("Z")
    for value in row:
        assert not value.startswith(("=", "+", "-", "@"))


def test_findings_cli_prints_csv(app, runner, world, two_centers):
    result = runner.invoke(args=["portal", "findings", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert ",".join(rows[0]) == HEADER and len(rows) == 3
    only_b = runner.invoke(args=["portal", "findings", "--center", "Center B"])
    assert len(_rows(only_b.output)) == 2
    assert runner.invoke(args=["portal", "findings", "--center", "Nope"]).exit_code == 1


def test_health_scan_cli(app, runner, world):
    connect(app, world["tutor_a"], "licensed")
    User.update(connect_link="https://zoom.us/j/81234567890").execute()
    result = runner.invoke(args=["portal", "health-scan"])
    assert result.exit_code == 0, result.output
    assert "1 tutor(s) checked with Zoom in 3 call(s); 1 new" in result.output
    assert "stale_connect_link" in result.output
    centered = runner.invoke(args=["portal", "health-scan", "--center", "Center B"])
    assert centered.exit_code == 0 and "0 tutor(s)" in centered.output
    assert len(opened("stale_connect_link")) == 1  # B's scan left A's finding alone
    runs.claim()
    busy = runner.invoke(args=["portal", "health-scan"])
    assert busy.exit_code == 1 and "already running" in busy.output


def test_audit_log_csv_is_scoped_to_the_admins_centers(app, auth, login_as, world):
    AuditEntry.create(actor=world["admin_a"], center=world["a"], action="center.settings")
    AuditEntry.create(actor=world["admin_b"], center=world["b"], action="center.settings")
    AuditEntry.create(actor=None, center=world["a"], action="=evil", after={"x": "+1"})
    login_as("admin_a")
    rows = _rows(auth.get("/admin/health/audit.csv").get_data(as_text=True))
    assert rows[0] == ["time", "actor", "action", "center", "target", "before", "after"]
    assert len(rows) == 3 and {r[3] for r in rows[1:]} == {"Center A"}
    assert any(r[2].startswith("'=evil") for r in rows[1:])
    auth.logout()
    login_as("account_admin")
    assert len(_rows(auth.get("/admin/health/audit.csv").get_data(as_text=True))) == 4


def test_audit_log_cli(app, runner, world):
    AuditEntry.create(actor=world["admin_a"], center=world["a"], action="center.settings")
    result = runner.invoke(args=["portal", "audit-log", "--format", "csv"])
    assert result.exit_code == 0 and "admin.a@x.edu" in result.output


def test_readiness_counts_only_tutors_without_critical_findings(app, world):
    Center.update(virtual_meetings_enabled=True).execute()
    connect(app, world["tutor_a"], "licensed")
    connect(app, world["tutor_b"], "tutor1")
    ZoomConnection.update(status="needs_reauth").where(
        ZoomConnection.tutor == world["tutor_b"].id
    ).execute()
    row, _report = runs.run_now(app)
    ready = {s.center_id: (s.ready, s.tutors) for s in row.snapshots}
    assert ready == {world["a"].id: (1, 1), world["b"].id: (0, 1)}
    assert scan(app).tutors == 1
