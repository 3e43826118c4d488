"""The live board: today's Daily Sessions in the admin's centers (polled by htmx)."""

from flask_login import current_user

from ..auth.access import visible_centers
from ..live import board
from ..rendering import render
from .views import bp


@bp.route("/live/")
def live_board():
    """Today's Daily Sessions in the admin's centers, re-rendered by htmx every 5 s."""
    groups = board.read(list(visible_centers(current_user)))
    return render("admin/live_board.html", "admin/partials/live_board.html", groups=groups)
