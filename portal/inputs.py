"""Bad input stops at the edges with a 4xx, before any view or query sees it.

- ``<int:…>`` in every route is ``IdConverter``: a database id, 1 … 2⁶³−1. A larger
  number, 0-padded junk or a sign is no route at all (404). SQLite cannot bind an
  integer of 2⁶³ or more (OverflowError: a 500 before this).
- ``refuse_unstorable_input`` (a before_request hook): a NUL character anywhere in
  the query string, the form, the path or a cookie is a 400. PostgreSQL cannot store
  NUL in text (psycopg2 raises ValueError: a 500 on the login form before this), and
  no form of the portal needs one.
- ``id_field`` reads an id from a form or query value by the same rule.
"""

from flask import abort, request
from werkzeug.routing import IntegerConverter

ID_MAX = 2**63 - 1  # SQLite's and PostgreSQL's largest integer key


class IdConverter(IntegerConverter):
    """An unsigned id that fits a 64-bit integer column."""

    def __init__(self, map, fixed_digits=0, min=1, max=ID_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def id_field(value):
    """An id from a submitted field (1 … 2⁶³−1), or None for anything else."""
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 1 <= number <= ID_MAX else None


def _has_nul(pairs):
    return any("\x00" in key or "\x00" in value for key, value in pairs)


def refuse_unstorable_input():
    """400 when the request carries a NUL character anywhere a view could store it."""
    if _has_nul(request.args.items(multi=True)) or "\x00" in request.path:
        abort(400)
    if _has_nul(request.cookies.items(multi=True)):
        abort(400)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if _has_nul(request.form.items(multi=True)):
            abort(400)
    return None


def install(app):
    """Use IdConverter for every <int:…> and refuse NUL input (call before blueprints)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_unstorable_input)
