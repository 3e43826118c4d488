"""Links under PUBLIC_BASE_URL, built from the app's URL map (no request needed).

A background job has no request to take the host from, and pushing a fake request
context would run the app's teardown (closing the job's database connection), so the
URL map is bound to PUBLIC_BASE_URL directly.
"""

from urllib.parse import urlsplit

from .settings import mail_settings


def external(app, endpoint, **values):
    """The absolute URL of ``endpoint`` at the portal's external address."""
    adapter = app.extensions.get("mail_url_adapter")
    if adapter is None:
        parts = urlsplit(mail_settings(app).base_url or "http://localhost")
        adapter = app.url_map.bind(
            parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
        )
        app.extensions["mail_url_adapter"] = adapter
    return adapter.build(endpoint, values, force_external=True)
