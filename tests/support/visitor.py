"""One browser over plain HTTP against real servers (gunicorn), without a browser.

Cookies are kept by name for 127.0.0.1 on every port, as a browser keeps them (cookies are
not per port), Secure ones included: Chromium treats http://127.0.0.1 as a secure context,
Python's cookie jar does not. Redirects are not followed, so a test sees each 303.
"""

import http.client
from urllib.parse import urlencode, urlsplit

from support import CSRF_RE, HIDDEN_CSRF_RE, TEST_PASSWORD

HOST = "127.0.0.1"


class Answer:
    def __init__(self, status, headers, text):
        self.status = status
        self.headers = headers
        self.text = text

    @property
    def location(self):
        return self.headers.get("Location", "")


class Visitor:
    def __init__(self):
        self.jar = {}

    def request(self, method, url, body=None, headers=None, timeout=30):
        parts = urlsplit(url)
        assert parts.hostname == HOST, url
        sent = dict(headers or {})
        if self.jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        conn = http.client.HTTPConnection(HOST, parts.port, timeout=timeout)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request(method, path or "/", body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for raw in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in raw.lower() or not value:
                self.jar.pop(name.strip(), None)
            else:
                self.jar[name.strip()] = value
        return Answer(response.status, response.headers, text)

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, data, same_origin=True, headers=None):
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        if same_origin:
            headers["Sec-Fetch-Site"] = "same-origin"
        return self.request("POST", url, urlencode(data), headers)

    def csrf(self, url):
        """The CSRF token of the page at url (htmx header or hidden field)."""
        html = self.get(url).text
        match = CSRF_RE.search(html) or HIDDEN_CSRF_RE.search(html)
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def post_form(self, base, path, data=None, token_path=None, htmx=False):
        """POST to base+path with the CSRF token of base+token_path (default: path);
        ``htmx``: as htmx sends it (HX-Request), for a partial answer."""
        token = self.csrf(base + (token_path or path))
        headers = {"HX-Request": "true"} if htmx else None
        return self.post(base + path, {**(data or {}), "csrf_token": token}, headers=headers)

    def log_in(self, base, email, password=TEST_PASSWORD):
        answer = self.post_form(base, "/login", {"email": email, "password": password})
        assert answer.status == 303, (answer.status, answer.text[:500])
        return answer
