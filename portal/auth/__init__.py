"""Login, logout, roles and the helpers that scope every query to the user's centers."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import views  # noqa: E402,F401
