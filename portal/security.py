"""Response headers, cross-site request refusal and safe redirects (RELIABILITY §3)."""

import re
import unicodedata
from urllib.parse import unquote, urlsplit

from flask import abort, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; "
    "connect-src 'self'"
)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def set_security_headers(response):
    """Add CSP, HSTS, nosniff, referrer and framing headers; vary HTML on HX-Request."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
        headers.setdefault("Cache-Control", "no-store")
    return response


def refuse_cross_site():
    """Refuse state-changing requests a browser marks as cross-site (Fetch Metadata)."""
    if request.method not in UNSAFE_METHODS:
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        if site not in {"same-origin", "none"}:
            abort(403)
        return
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        if urlsplit(origin).netloc != request.host:
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
