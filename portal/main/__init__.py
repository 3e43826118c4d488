"""Pages every visitor or user shares: the landing redirect, home, help, the calendar feed."""

from . import calendar
from .views import bp

__all__ = ["bp", "calendar"]
