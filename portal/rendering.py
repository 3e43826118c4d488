"""One decision point for partial versus full page (STYLE §9)."""

from flask import make_response, render_template, request


def wants_partial():
    """True for an htmx request that is not a history restore."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render(page, partial=None, status=200, **context):
    """Render the partial for htmx requests, else the full page; always Vary on HX-Request."""
    template = partial if (partial and wants_partial()) else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
