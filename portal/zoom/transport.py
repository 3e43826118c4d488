"""A `requests` transport that hands requests straight to a WSGI app (no socket, no thread).

`mount_simulator(session, base_url, wsgi_app)` mounts `WSGIAdapter(wsgi_app)` on a
`requests.Session` for every URL starting with `base_url`, so the Zoom client keeps its normal
code path (URLs, headers, Basic/Bearer auth, JSON) while the simulator answers in-process. Used by
the single-threaded dev server and the in-process demo; the tests also run the simulator over
real HTTP.

Behaviour: the request's method, path, query, headers and body become a WSGI environ
(`werkzeug.test.EnvironBuilder`); the full path is kept (mount the WSGI app so that it serves the
same paths as the URL, e.g. the simulator at `/zoom-sim`). The answer is a real
`requests.Response` with `status_code`, `reason`, headers, body, `url`, `request`, `elapsed`.
An app that aborts its response with a `ConnectionError` (the simulator's "drop the connection"
fault) raises `requests.exceptions.ConnectionError`. A read timeout is simulated after the fact:
if the app took longer than the read timeout, `requests.exceptions.ReadTimeout` is raised.
"""

import io
import time
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.response import HTTPResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app

HOP_BY_HOP = {"content-length", "host", "connection", "transfer-encoding"}


def _read_timeout(timeout):
    if isinstance(timeout, tuple):
        return timeout[1]
    return timeout


def _body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if hasattr(body, "read"):
        return body.read()
    return b"".join(chunk.encode() if isinstance(chunk, str) else chunk for chunk in body)


class WSGIAdapter(BaseAdapter):
    """Send `requests` requests to a WSGI application in-process."""

    def __init__(self, wsgi_app):
        super().__init__()
        self.wsgi_app = wsgi_app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        """Run the request through the WSGI app and return a `requests.Response`."""
        url = urlsplit(request.url)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        builder = EnvironBuilder(
            path=url.path or "/",
            base_url=f"{url.scheme}://{url.netloc}",
            query_string=url.query,
            method=request.method,
            headers=headers,
            data=_body_bytes(request.body),
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        started = time.monotonic()
        try:
            app_iter, status, response_headers = run_wsgi_app(self.wsgi_app, environ, buffered=True)
        except ConnectionError as exc:
            raise requests.exceptions.ConnectionError(exc, request=request) from exc
        body = b"".join(app_iter)
        elapsed = time.monotonic() - started
        read_timeout = _read_timeout(timeout)
        if read_timeout is not None and elapsed > read_timeout:
            raise requests.exceptions.ReadTimeout(
                f"WSGI app took {elapsed:.2f}s (read timeout {read_timeout}s)", request=request
            )
        return self._build_response(request, status, response_headers, body, elapsed)

    def _build_response(self, request, status, headers, body, elapsed):
        code, _, reason = status.partition(" ")
        raw = HTTPResponse(
            body=io.BytesIO(body),
            headers=list(headers.items()),
            status=int(code),
            reason=reason or HTTPStatus(int(code)).phrase,
            preload_content=False,
            decode_content=False,
        )
        response = requests.Response()
        response.status_code = int(code)
        response.reason = raw.reason
        response.headers = CaseInsensitiveDict(headers.items())
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = raw
        response.url = request.url
        response.request = request
        response.connection = self
        response.elapsed = timedelta(seconds=elapsed)
        response.content  # noqa: B018 - load the body now; the adapter never streams
        return response

    def close(self):
        """Nothing to release."""


def mount_simulator(session, base_url, wsgi_app):
    """Route every request of `session` under `base_url` to `wsgi_app`; return the adapter."""
    adapter = WSGIAdapter(wsgi_app)
    session.mount(base_url.rstrip("/") + "/", adapter)
    return adapter
