"""What the health dashboard reads, every query scoped to the admin's centers.

A center administrator sees the findings of their centers: the finding's center is
one of theirs, or its tutor belongs to one of them. ``centers=None`` means an
account administrator (everything). Each piece is one query: summary counts (GROUP
BY check, severity), the trend (one row of SUM(CASE) per day), a page of findings
(with COUNT for the pager), the readiness lines (the last scan's snapshot per center).
"""

import datetime
import math
from dataclasses import dataclass

from peewee import JOIN, Case, fn

from ..inputs import id_field
from ..models import Center, Finding, HealthScan, HealthSnapshot, Membership, User, utcnow
from .checks import ALL, title
from .findings import SEVERITIES

PAGE_SIZE = 25
TREND_DAYS = 14
STATUSES = ("open", "resolved", "all")


@dataclass
class Filters:
    center: int | None = None
    check: str | None = None
    severity: str | None = None
    status: str = "open"
    page: int = 1

    @classmethod
    def parse(cls, args, centers):
        """Filters from query arguments; unknown values are ignored, never trusted."""

        def number(name):
            return id_field(args.get(name, ""))  # 1 … 2⁶³−1, else None

        center = number("center")
        if center is not None and centers is not None and center not in centers:
            center = -1  # not one of theirs: an empty result, never another center's rows
        check = args.get("check") or None
        severity = args.get("severity") if args.get("severity") in SEVERITIES else None
        status = args.get("status") if args.get("status") in STATUSES else "open"
        return cls(center, check, severity, status, number("page") or 1)

    def query_args(self, **changes):
        """The filters as URL arguments (for links and the pager)."""
        values = {
            "center": self.center,
            "check": self.check,
            "severity": self.severity,
            "status": self.status,
            "page": self.page,
            **changes,
        }
        return {k: v for k, v in values.items() if v not in (None, "", 1) or k == "status"}


def scoped(query, centers):
    """Restrict a Finding query to findings an admin of ``centers`` may see."""
    if centers is None:
        return query
    members = Membership.select(Membership.user).where(Membership.center.in_(list(centers)))
    return query.where(Finding.center.in_(list(centers)) | Finding.tutor.in_(members))


def filtered(centers, filters):
    """The findings matching the filters, within scope (no ordering)."""
    query = scoped(Finding.select(), centers)
    if filters.center is not None:
        members = Membership.select(Membership.user).where(Membership.center == filters.center)
        query = query.where((Finding.center == filters.center) | Finding.tutor.in_(members))
    if filters.check:
        query = query.where(Finding.check == filters.check)
    if filters.severity:
        query = query.where(Finding.severity == filters.severity)
    if filters.status == "open":
        query = query.where(Finding.is_open())
    elif filters.status == "resolved":
        query = query.where(Finding.is_resolved())
    return query


def finding_or_none(finding_id, centers):
    """The finding if an admin of ``centers`` may see it."""
    return scoped(Finding.select(), centers).where(Finding.id == finding_id).first()


def summary(centers):
    """Open findings per check and severity: [(check, title, {severity: n}, total)]."""
    query = scoped(
        Finding.select(Finding.check, Finding.severity, fn.COUNT(Finding.id)).where(
            Finding.is_open()
        ),
        centers,
    ).group_by(Finding.check, Finding.severity)
    counts = {}
    for check, severity, count in query.tuples():
        counts.setdefault(check, {})[severity] = count
    order = [m.NAME for m in ALL] + sorted(set(counts) - {m.NAME for m in ALL})
    return [(c, title(c), counts.get(c, {}), sum(counts.get(c, {}).values())) for c in order]


def trend(centers, days=TREND_DAYS, now=None):
    """Open findings at the end of each of the last ``days`` UTC days: [(date, count)]."""
    now = now or utcnow()
    today = now.date()
    dates = [today - datetime.timedelta(days=n) for n in range(days - 1, -1, -1)]
    ends = [
        min(now, datetime.datetime.combine(d + datetime.timedelta(days=1), datetime.time()))
        for d in dates
    ]
    columns = [
        fn.SUM(
            Case(
                None,
                [
                    (
                        (Finding.first_seen < end) & Finding.was_open_at(end),
                        1,
                    )
                ],
                0,
            )
        )
        for end in ends
    ]
    since = datetime.datetime.combine(dates[0], datetime.time())
    query = scoped(
        Finding.select(*columns).where(Finding.was_open_at(since)),
        centers,
    )
    row = query.tuples().first() or ()
    return [(d, int(v or 0)) for d, v in zip(dates, row or [0] * days, strict=False)]


def chart(points, width=280, height=80, pad=4):
    """Bar geometry for the trend SVG: [(x, y, w, h, date, count)] and the maximum."""
    top = max([c for _, c in points] + [1])
    step = (width - 2 * pad) / max(1, len(points))
    bars = []
    for i, (day, count) in enumerate(points):
        h = 0 if count == 0 else max(1.0, (height - 2 * pad) * count / top)
        x = pad + i * step + 1
        bars.append(
            (round(x, 1), round(height - pad - h, 1), round(step - 2, 1), round(h, 1), day, count)
        )
    return bars, top


def page(centers, filters):
    """One page of findings (newest problems first, critical first) and the pager."""
    base = filtered(centers, filters)
    total = base.count()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    number = min(filters.page, pages)
    Tutor = User.alias("tutor")
    rank = Case(Finding.severity, [("critical", 0), ("warning", 1)], 2)
    rows = (
        base.select(Finding, Center, Tutor)
        .join(Center, JOIN.LEFT_OUTER, on=(Finding.center == Center.id))
        .switch(Finding)
        .join(Tutor, JOIN.LEFT_OUTER, on=(Finding.tutor == Tutor.id))
        .order_by(Finding.is_resolved(), rank, Finding.last_seen.desc(), Finding.id.desc())
        .paginate(number, PAGE_SIZE)
    )
    return list(rows), total, number, pages


def readiness(centers, recent_scans=50):
    """The latest snapshot per visible Virtual Meetings center: [(center, snapshot or None)]."""
    visible = Center.with_virtual_meetings()
    if centers is not None:
        visible = visible.where(Center.id.in_(list(centers)))
    scans = HealthScan.finished().select(HealthScan.id).limit(recent_scans)
    snaps = {}
    for snap in (
        HealthSnapshot.select().where(HealthSnapshot.scan.in_(scans)).order_by(HealthSnapshot.id)
    ):
        snaps[snap.center_id] = snap  # the newest wins
    return [(c, snaps.get(c.id)) for c in visible.order_by(Center.name)]
