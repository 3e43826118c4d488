"""No secret reaches a log record or stderr, even with every library logger at DEBUG."""

import base64
import logging

import pytest

from portal.zoom import ZoomClient, ZoomReauthRequired, revoke
from portal.zoom.bodies import meeting_body

from .helpers import CLIENT_ID, CLIENT_SECRET, connect, expire, make_tutor, stored_tokens

LOGGERS = ("", "portal", "oauthlib", "requests_oauthlib", "urllib3")


def test_connect_refresh_call_revoke_log_no_secret(zoom, http, caplog, capfd):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    tutor = make_tutor()
    conn, token, args, pending = connect(zoom, http, tutor)
    expire(conn)
    client = ZoomClient(conn, zoom.settings, http=http)
    client.me()  # refreshes first
    refreshed = stored_tokens(conn, zoom.settings)
    created = client.create_meeting(
        meeting_body(topic="Daily Session", start_time=None, duration=60, timezone="UTC")
    )
    fetched = client.get_meeting(created["id"])
    assert revoke(conn, zoom.settings, http) is True
    with pytest.raises(ZoomReauthRequired) as info:
        client.me()

    secrets = {
        "access token": token["access_token"],
        "refresh token": token["refresh_token"],
        "refreshed access token": refreshed[0],
        "refreshed refresh token": refreshed[1],
        "authorization code": args["code"],
        "PKCE verifier": pending["verifier"],
        "client secret": CLIENT_SECRET,
        "basic credentials": base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
        "start url (create)": created["start_url"],
        "start url (get)": fetched["start_url"],
        "zak": fetched["start_url"].split("zak=")[1],
    }
    assert refreshed[0] != token["access_token"]  # a refresh really happened
    names = {r.name.split(".")[0] for r in caplog.records}
    assert {"portal", "urllib3"} <= names  # the loggers were live
    texts = [caplog.text, str(info.value), repr(info.value)]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_text:
            texts.append(record.exc_text)
    captured = capfd.readouterr()
    texts += [captured.err, captured.out]
    blob = "\n".join(texts)
    leaked = [name for name, value in secrets.items() if value and value in blob]
    assert leaked == []
    for record in caplog.records:
        assert "Bearer " + refreshed[0] not in record.getMessage()


def test_requests_oauthlib_debug_lines_are_redacted(zoom, http, caplog):
    """requests-oauthlib logs 'Obtained token {...}' at DEBUG: it must arrive redacted."""
    caplog.set_level(logging.DEBUG, logger="requests_oauthlib")
    caplog.set_level(logging.DEBUG, logger="oauthlib")
    conn, token, _, _ = connect(zoom, http, make_tutor())
    library = [r for r in caplog.records if r.name.startswith("requests_oauthlib")]
    assert library, "requests-oauthlib logged nothing at DEBUG"
    for record in library:
        assert token["access_token"] not in record.getMessage()
        assert token["refresh_token"] not in record.getMessage()
    assert any("[redacted]" in r.getMessage() for r in library)
