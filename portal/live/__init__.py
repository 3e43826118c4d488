"""Live state from Zoom's webhooks: the inbox, the effects, presence and the live board.

A service package: nothing here touches ``request`` or renders. ``inbox.receive``
verifies and records a delivery (``POST /webhooks/zoom`` calls it); ``effects``
applies recorded deliveries (after the answer, or in the huey task); ``presence``
keeps who waits and who joined; ``board`` builds what the live board and the
tutor's live line show, reading only.
"""
