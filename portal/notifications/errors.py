"""What a message may raise instead of being sent; below both the outbox and the messages."""


class Skip(Exception):
    """The message is no longer due (the appointment was cancelled, reminders were turned off)."""
