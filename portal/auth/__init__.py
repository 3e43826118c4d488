"""Login, logout, roles and the helpers that scope every query to the user's centers.

The blueprint is ``auth.views.bp``; this package imports nothing, so services can use
``auth.access`` and ``auth.throttle`` without loading the views.
"""
