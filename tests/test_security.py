"""Headers, cookies, CSRF on every state-changing route, cross-site refusal."""

import pytest
from support import csrf_token

from portal import create_app
from portal.models import AuditEntry, Center

PAGES = ["/login", "/admin/centers", "/tutor/preferences", "/home"]


def assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for part in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert part in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_every_page_has_security_headers_and_varies_on_hx_request(auth, client, world):
    assert_security_headers(client.get("/login"))
    auth.as_user(world["account_admin"])
    for path in ["/admin/centers", f"/admin/centers/{world['a'].id}", "/help/virtual-meetings"]:
        response = client.get(path)
        assert response.status_code == 200
        assert_security_headers(response)
        assert "HX-Request" in response.headers.get("Vary", "")
    assert_security_headers(client.get("/no-such-page"))


def test_htmx_is_configured_for_a_strict_csp(client):
    html = client.get("/login").get_data(as_text=True)
    assert '"allowEval":false' in html
    assert '"includeIndicatorStyles":false' in html
    assert "<script>" not in html and "style=" not in html


def test_production_cookie_flags(database_url):
    app = create_app(
        {
            "TESTING": False,
            "SECRET_KEY": "a-production-secret-key-with-enough-length",
            "TOKEN_ENCRYPTION_KEYS": "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A=",
            "DATABASE_URL": database_url,
            "ZOOM_SIMULATOR": True,
        }
    )
    client = app.test_client()
    response = client.get("/login", base_url="https://portal.example.edu")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain=" not in cookie
    assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_NAME"].startswith(
        "__Host-"
    )


def test_production_errors_are_generic(database_url):
    app = create_app(
        {
            "TESTING": False,
            "SECRET_KEY": "a-production-secret-key-with-enough-length",
            "TOKEN_ENCRYPTION_KEYS": "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A=",
            "DATABASE_URL": database_url,
            "ZOOM_SIMULATOR": True,
        }
    )

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret-internal-detail SELECT * FROM user")

    response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret-internal-detail" not in body and "Traceback" not in body
    assert "Something went wrong" in body


def _post_routes(app):
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.rule.startswith("/zoom-sim"):
            yield rule


def test_every_post_route_refuses_a_missing_csrf_token(app, auth, client, world):
    auth.as_user(world["account_admin"])
    before = (Center.select().count(), AuditEntry.select().count())
    checked = 0
    for rule in _post_routes(app):
        if rule.rule == "/webhooks/zoom":
            continue
        values = {arg: 1 for arg in rule.arguments}
        values.update({"center_id": world["a"].id, "user_id": world["tutor_a"].id})
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<int:{arg}>", str(values[arg])).replace(
                f"<{arg}>", str(values[arg])
            )
        response = client.post(url, data={"enabled": "0", "name": "X"})
        assert response.status_code == 400, url
        checked += 1
    assert checked >= 6
    assert (Center.select().count(), AuditEntry.select().count()) == before
    assert Center.get_by_id(world["a"].id).virtual_meetings_enabled is True


def test_htmx_post_with_body_token_succeeds(auth, client, world):
    auth.as_user(world["admin_a"])
    response = auth.post(
        f"/admin/centers/{world['a'].id}/virtual-meetings",
        {"enabled": "0", "confirm": "1"},
        htmx=True,
    )
    assert response.status_code == 200
    assert Center.get_by_id(world["a"].id).virtual_meetings_enabled is False


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.tld"},
    ],
)
def test_cross_site_post_is_refused_even_with_token(auth, client, world, headers):
    auth.as_user(world["admin_a"])
    token = csrf_token(client, "/admin/centers")
    response = client.post(
        f"/admin/centers/{world['a'].id}/virtual-meetings",
        data={"enabled": "0", "confirm": "1", "csrf_token": token},
        headers=headers,
    )
    assert response.status_code == 403
    assert Center.get_by_id(world["a"].id).virtual_meetings_enabled is True


def test_request_body_over_the_limit_is_refused(auth, client, world):
    auth.as_user(world["admin_a"])
    token = csrf_token(client, "/admin/centers")
    response = client.post(
        f"/admin/centers/{world['a'].id}/settings",
        data={"csrf_token": token, "opens_at": "x" * (2 * 1024 * 1024)},
    )
    assert response.status_code == 413
