"""The tutor's live line: who waits in their waiting room and who joined (polled by htmx)."""

from flask_login import current_user

from ..rendering import render
from .views import bp, live_context


@bp.route("/tutor/live/")
def live_status():
    """The tutor's own session: who waits and who joined (the panel polls this)."""
    return render(
        "tutor/live.html", "tutor/partials/live_tutor.html", live=live_context(current_user)
    )
