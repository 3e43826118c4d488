"""The PKCE verifier and state never reach a log, not even peewee's SQL log at DEBUG."""

import logging

import pytest
from support.zoom import simulator_config, start_connect

from portal.logging_setup import redact
from portal.models import WebSession
from portal.zoom.oauth import STORE_KEY


@pytest.fixture
def app_config(app_config):
    return simulator_config(app_config)


def test_connect_start_keeps_the_verifier_out_of_the_sql_log(auth, caplog, login_as, world):
    login_as("tutor_a")
    caplog.set_level(logging.DEBUG, logger="peewee")
    start_connect(auth)
    pending = next(
        row.data[STORE_KEY] for row in WebSession.select() if STORE_KEY in (row.data or {})
    )
    sql = [r.getMessage() for r in caplog.records if r.name == "peewee"]
    assert any("web_session" in line for line in sql)  # the session write was logged
    blob = caplog.text + "\n".join(sql)
    assert pending["verifier"] not in blob
    assert pending["state"] not in blob


@pytest.mark.parametrize(
    "line",
    [
        '{"zoom_oauth": {"state": "S3cr3tState", "verifier": "S3cr3tVerifier"}}',
        "pkce_verifier='S3cr3tVerifier' webhook_secret=S3cr3tVerifier",
        '{"code_verifier":"S3cr3tVerifier"}',
        '{"state": "1-S3cr3tState"}',  # a secret may start with digits and a dash
        "state=94--S3cr3t&code=7S3cr3t",
    ],
)
def test_redact_hides_every_secret_spelling(line):
    assert "S3cr3t" not in redact(line)


def test_short_zoom_error_codes_stay_readable():
    assert redact('{"code": 124, "message": "Invalid access token."}') == (
        '{"code": 124, "message": "Invalid access token."}'
    )
