"""Response headers, cross-site request refusal and safe redirects (RELIABILITY §3)."""

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from flask import abort, current_app, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action {form_action}; "
    "connect-src 'self'"
)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
REAL_ZOOM = "https://zoom.us"
# Zoom's authorize page may forward to its sign-in pages on these hosts.
ZOOM_SIGN_IN_HOSTS = ("https://zoom.us", "https://*.zoom.us")


def content_security_policy(oauth_base_url):
    """The CSP, whose form-action also allows the Zoom the portal sends tutors to.

    Chromium applies form-action to every redirect after a form POST, so a form that
    answers with a redirect to Zoom's authorize page needs Zoom's origin there: the
    configured OAuth origin, plus Zoom's sign-in hosts when it is the real Zoom.
    """
    sources = ["'self'"]
    parts = urlsplit(oauth_base_url or "")
    if parts.scheme in ("http", "https") and parts.netloc:
        origin = f"{parts.scheme}://{parts.netloc}"
        sources.extend(ZOOM_SIGN_IN_HOSTS if origin == REAL_ZOOM else [origin])
    return CSP.format(form_action=" ".join(sources))


def set_security_headers(response):
    """Add CSP, HSTS, nosniff, referrer and framing headers; vary HTML on HX-Request."""
    headers = response.headers
    policy = current_app.extensions.get("csp") or content_security_policy(None)
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
        headers.setdefault("Cache-Control", "no-store")
    return response


def _from_this_site(fallback_header):
    """Fetch Metadata's word on where the request came from; without it, the fallback
    header's host (Origin for writes, Referer for navigations) must be this one."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in {"same-origin", "none"}
    other = request.headers.get(fallback_header)
    return not other or other == "null" or urlsplit(other).netloc == request.host


def same_site_navigation():
    """True unless this GET came from another site: for GETs that start something
    (Authorize), a link on this site or a typed address is fine, another site's is not."""
    return _from_this_site("Referer")


def refuse_cross_site():
    """Refuse state-changing requests a browser marks as cross-site (Fetch Metadata)."""
    if request.method in UNSAFE_METHODS and not _from_this_site("Origin"):
        abort(403)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\s]")


def safe_next(target, default):
    """Return target if it is a local path on this site, else default."""
    if not target or not isinstance(target, str) or len(target) > 500:
        return default
    candidate = unicodedata.normalize("NFKC", target)
    decoded = unquote(candidate)
    for value in (target, candidate, decoded):
        if (
            _CONTROL.search(value)
            or not value.startswith("/")
            or value.startswith("//")
            or "\\" in value
        ):
            return default
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            return default
    return target
