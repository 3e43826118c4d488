"""Bad input never gets a 5xx, and a refused write leaves the database unchanged (issue 15).

Generated from ``app.url_map``: every rule and method, as anonymous and as each role,
gets a hostile corpus (empty, 10 kB and 1 MB strings, NUL, invalid UTF-8, ids 0, -1,
2⁶³ and 10¹⁰⁰, dates in years 1 and 9999, HTML/JS and CSV-formula payloads, a broken
IPv6 URL) in its path arguments, query string and form fields. Field names come from
the code and templates (what the views read and the forms send), so the values reach
the views' parsing, not only the router. Sampled per route with a fixed seed
(``FUZZ_SEED`` picks another) so the run stays well under a minute.

Checked after every request: the status is below 500 and no exception escaped; when
the answer is 4xx, or the method is GET, every table's row count is what it was
(the server-side session table and, for the login form, the failed-login counter
excepted: those are how refusals are remembered).
"""

import datetime
import inspect
import os
import random
import re
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from support import Auth, csrf_token
from support.zoom import simulator_config

from portal import db as dbmod
from portal.health import findings, runs
from portal.models import Appointment, DailySession

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("FUZZ_SEED", "15"))

TEXT = [
    "",
    "x" * 10_000,
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "http://[::1",
    "https://[::1]:99999/x",
    "../../../../etc/passwd",
    "{{7*7}}",
]
IDS = ["0", "-1", str(2**63), str(10**100), "1e3", "00000000000000000000001"]
HUGE = "y" * 1_000_000
INVALID_UTF8 = b"%FF%FE%C3%28"  # raw bytes, already percent-encoded
CORPUS = TEXT + IDS + [HUGE, INVALID_UTF8]
ROLES = [None, "student_a", "tutor_a", "admin_a", "account_admin"]
# What each request may change even when refused: sessions, and the login form's counter.
ALWAYS_ALLOWED = {"web_session"}
# Join is a link (a GET) that records where it sent the student, by design.
JOIN_RECORDS = {"join_event", "finding", "outbox_message"}
ALLOWED_FOR = {
    "auth.login": {"login_attempt"},
    "student.join_tutor": JOIN_RECORDS,
    "student.join_appointment": JOIN_RECORDS,
}


FIELD_IN_CODE = re.compile(
    r"(?:args|form|values|params)\.get(?:list)?\(\s*[\"']([A-Za-z_]\w*)[\"']"
    r"|(?:args|form|values)\[[\"']([A-Za-z_]\w*)[\"']\]"
)
FIELD_IN_TEMPLATE = re.compile(r'name="([A-Za-z_]\w*)"')


def names_in(source):
    """Fields a module reads, and those of the templates it renders."""
    names = {m.group(1) or m.group(2) for m in FIELD_IN_CODE.finditer(source)}
    for template in set(re.findall(r"[\"']([\w/]+\.html)[\"']", source)):
        path = ROOT / "templates" / template
        if path.exists():
            names.update(FIELD_IN_TEMPLATE.findall(path.read_text()))
            for include in re.findall(r"include \"([\w/]+\.html)\"", path.read_text()):
                if (ROOT / "templates" / include).exists():
                    names.update(
                        FIELD_IN_TEMPLATE.findall((ROOT / "templates" / include).read_text())
                    )
    names.discard("csrf_token")
    return names


def field_names():
    """Every request field the code reads and the templates send."""
    names = set()
    for path in (ROOT / "portal").rglob("*.py"):
        names |= names_in(path.read_text())
    for path in (ROOT / "templates").rglob("*.html"):
        names.update(FIELD_IN_TEMPLATE.findall(path.read_text()))
    names.discard("csrf_token")
    return sorted(names)


def view_fields(app, rule):
    """The fields the rule's view module (and its templates) use."""
    view = app.view_functions[rule.endpoint]
    module = sys.modules.get(getattr(view, "__module__", ""), None)
    try:
        return sorted(names_in(inspect.getsource(module))) if module else []
    except (OSError, TypeError):
        return []


@pytest.fixture
def app_config(app_config):
    config = simulator_config(app_config)
    config.update(HEALTH_SCAN_RUNNER="inline", LOGIN_ADDRESS_MAX_DELAY=0)
    return config


def table_counts():
    database = dbmod.database.obj
    tables = sorted(database.get_tables())
    sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM \"{t}\"" for t in tables)
    return dict(database.execute_sql(sql).fetchall())


def encode(value):
    return value.decode() if isinstance(value, bytes) else quote(value, safe="")


def build_path(rule, values):
    path = rule.rule
    for arg in rule.arguments:
        path = re.sub(r"<(?:[^:<>]+:)?" + arg + r">", values[arg], path)
    return path


def valid_args(rule, world):
    """Path arguments that exist, so fuzzed fields reach the view."""
    known = {
        "center_id": world["a"].id,
        "user_id": world["tutor_a"].id,
        "tutor_id": world["tutor_a"].id,
        "appointment_id": 1,
        "finding_id": 1,
        "scan_id": 1,
        "session_id": 1,
        "name": "reverify",
        "filename": "css/app.css",
    }
    return {arg: str(known.get(arg, "1")) for arg in rule.arguments}


def pick(rng, k, huge=True):
    """k corpus values; the 1 MB string now and then, and only in a body: no server
    takes a 1 MB URL (gunicorn answers 400 past 4 kB), and building one is slow."""
    values = rng.sample(TEXT + IDS + [INVALID_UTF8], k)
    if huge and rng.random() < 0.2:
        values[0] = HUGE
    return values


def form_body(fields, token):
    parts = [f"csrf_token={quote(token, safe='')}"] if token else []
    parts += [f"{name}={encode(value)}" for name, value in fields]
    return "&".join(parts).encode()


DATES = ["0001-01-01", "9999-12-31", "9999-12-31T23:59", "0001-01-01T00:00"]
URLS = ["http://[::1", "https://[::1]:99999/x", "javascript:alert(1)"]


def hostile_for(name, rng):
    """Hostile values for a field: those its name suggests, and one of anything."""
    if re.search(r"date|time|_at$|day|since|until", name):
        typed = DATES
    elif re.search(r"_id$|^(tutor|user|center|student|entry|page|count|minutes)", name):
        typed = rng.sample(IDS, 3)
    elif re.search(r"link|url|redirect|next", name):
        typed = URLS
    else:
        typed = rng.sample(TEXT, 1)
    return [*typed, rng.choice(TEXT + IDS + [INVALID_UTF8])]


def shallow_plan(app, rule, method, world, names, rng):
    """Hostile path arguments, every field at once, and the view's fields all NUL,
    all invalid UTF-8 or all long: for every caller."""
    base = valid_args(rule, world)
    own = view_fields(app, rule) or ["x"]
    out = [
        (base, [(name, value) for name in own], f"all fields {label}")
        for value, label in (
            ("a\x00b", "NUL"),
            (INVALID_UTF8, "invalid UTF-8"),
            ("x" * (10_000 if method != "GET" else 1_000), "long"),  # URLs stay short
        )
    ]
    for arg in rule.arguments:  # each path argument, hostile, the others valid
        for value in rng.sample(TEXT, 2) + rng.sample(IDS, 3):
            out.append(({**base, arg: encode(value)}, [], f"path {arg}={value[:24]!r}"))
    for _ in range(2):
        chosen = rng.sample(names, min(len(names), 12))
        fields = list(zip(chosen, pick(rng, len(chosen), huge=method != "GET"), strict=True))
        out.append((base, fields, f"fields {chosen[:3]}…"))
    return out


def deep_plan(app, rule, method, world, rng):
    """Each field the view uses, alone, hostile: for callers the view lets in."""
    base = valid_args(rule, world)
    out = []
    for name in view_fields(app, rule):
        for value in hostile_for(name, rng):
            out.append((base, [(name, value)], f"{name}={encode(value)[:24]!r}"))
    if method != "GET":
        out.append((base, [(rng.choice(view_fields(app, rule) or ["x"]), HUGE)], "1 MB field"))
    return out


def routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def seed(world):
    """One object behind every id route, so the requests reach the views' own checks."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    a, tutor, student = world["a"], world["tutor_a"], world["student_a"]
    Appointment.create(
        student=student,
        tutor=tutor,
        center=a,
        kind="online",
        start_at=now + datetime.timedelta(days=1),
        end_at=now + datetime.timedelta(days=1, minutes=30),
    )
    DailySession.create(tutor=tutor, center=a, date=now.date(), status="failed")
    findings.open_finding(
        "same_device", findings.tutor_key("same_device", tutor.id), "info", a, tutor, "x"
    )
    runs.claim(world["admin_a"], [a.id])


class Caller:
    """One browser (anonymous or logged in as a role) and its CSRF token."""

    def __init__(self, app, world, role):
        self.world, self.role = world, role
        self.client = app.test_client()
        if role is not None:
            Auth(self.client).as_user(world[role])
        self.refresh()

    def refresh(self):
        if self.role is not None and self.client.get("/home").status_code != 200:
            Auth(self.client).as_user(self.world[self.role])  # a fuzzed logout logged it out
        self.token = csrf_token(self.client, "/login" if self.role is None else "/home")

    def send(self, rule, method, args, fields):
        path = build_path(rule, args)
        if method == "GET":
            query = "&".join(f"{n}={encode(v)}" for n, v in fields)
            response = self.client.open(path, method="GET", query_string=query or None)
        else:
            response = self.client.open(
                path,
                method=method,
                data=form_body(fields, self.token),
                content_type="application/x-www-form-urlencoded",
            )
        response.close()  # static files are streamed from an open file
        return response.status_code


def test_no_route_answers_bad_input_with_a_5xx(app, world):
    seed(world)
    names = field_names()
    callers = {role: Caller(app, world, role) for role in ROLES}
    rng = random.Random(SEED)
    failures, sent, checked = [], 0, 0
    for rule, method in routes(app):
        shallow = shallow_plan(app, rule, method, world, names, rng)
        deep = deep_plan(app, rule, method, world, rng)
        # one of the callers the view lets in (the others stop at its gate) also gets
        # each of its fields alone; which one varies from route to route
        admitted = [
            role
            for role, caller in callers.items()
            if caller.send(rule, method, valid_args(rule, world), []) not in (302, 401, 403)
        ]
        deep_role = rng.choice(admitted) if admitted else None
        for role, caller in callers.items():
            plan = shallow + (deep if admitted and role == deep_role else [])
            before = table_counts()
            for args, fields, label in plan:
                try:
                    status = caller.send(rule, method, args, fields)
                except Exception as exc:  # noqa: BLE001 - every escape is a finding
                    status = f"{type(exc).__name__}: {str(exc)[:120]}"
                sent += 1
                where = f"{method} {rule.rule} as {role or 'anonymous'}: {label}"
                if not isinstance(status, int) or status >= 500:
                    failures.append(f"{where} -> {status}")
                after = table_counts()
                if isinstance(status, int) and status < 500 and (status >= 400 or method == "GET"):
                    allowed = ALWAYS_ALLOWED | ALLOWED_FOR.get(rule.endpoint, set())
                    changed = sorted(t for t in after if after[t] != before.get(t))
                    changed = [t for t in changed if t not in allowed]
                    checked += 1
                    if changed:
                        failures.append(f"{where} -> {status} but changed {changed}")
                if rule.endpoint in ("auth.logout", "auth.login"):
                    caller.refresh()
                    after = table_counts()
                before = after
    print(
        f"bad-input requests sent: {sent}, database checks: {checked}, "
        f"5xx or changes: {len(failures)}"
    )
    assert sent > 2500
    assert failures == [], f"{len(failures)} of {sent} requests:\n" + "\n".join(failures[:80])
