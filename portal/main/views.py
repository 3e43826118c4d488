"""Pages every signed-in user shares: the landing redirect and the student's home."""

from flask import Blueprint, make_response, redirect, render_template, url_for
from flask_login import current_user, login_required
from peewee import JOIN

from ..auth.views import home_for
from ..models import Appointment, Center, User, utcnow
from ..student.views import home_page

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    """Send visitors to login and users to their own home page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(home_for(current_user))


@bp.route("/home")
@login_required
def home():
    """A user's upcoming appointments (a student's home is their appointments page)."""
    if current_user.role == "student":
        return home_page()
    field = Appointment.tutor if current_user.role == "tutor" else Appointment.student
    appointments = (
        Appointment.select(Appointment, Center, User)
        .join(Center)
        .switch(Appointment)
        .join(User, JOIN.LEFT_OUTER, on=(Appointment.tutor == User.id))
        .where(
            field == current_user.id,
            Appointment.status == "booked",
            Appointment.end_at >= utcnow(),
        )
        .order_by(Appointment.start_at)
        .limit(50)
    )
    return render_template("main/home.html", appointments=appointments)


@bp.route("/healthz")
def healthz():
    """A trivial liveness answer for load balancers (and the Join benchmark's baseline)."""
    response = make_response("ok\n")
    response.mimetype = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for this on pages without an icon link (the simulator's)."""
    return redirect(url_for("static", filename="favicon.svg"), 301)


@bp.route("/help/virtual-meetings")
@login_required
def help_virtual_meetings():
    """The portal's own help article for Virtual Meetings."""
    return render_template("main/help_virtual_meetings.html")
