"""What students and tutors share: their e-mail preferences (the ``account`` blueprint)."""

from .views import bp

__all__ = ["bp"]
