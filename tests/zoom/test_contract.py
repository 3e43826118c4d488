"""The bodies the client sends for create and update validate against Zoom's OpenAPI document.

The document is the copy of Zoom's own ``ZoomMeetingAPISpec.json`` (OpenAPI 3.0) kept next to
the repository in ``../shared/zoom-openapi/`` (ZOOM_API §7). Its request schemas are inline.
"""

import datetime
import functools
import json
import os

import pytest

from portal.zoom import ZoomClient
from portal.zoom.bodies import meeting_body, meeting_patch

from .helpers import connect, make_tutor

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(REPO, os.pardir, "shared", "zoom-openapi", "ZoomMeetingAPISpec.json")
CREATE = ("/users/{userId}/meetings", "post")
PATCH = ("/meetings/{meetingId}", "patch")

validators = pytest.importorskip("openapi_schema_validator", reason="openapi-schema-validator")
pytestmark = pytest.mark.skipif(
    not os.path.exists(SPEC), reason=f"Zoom's OpenAPI document is not at {os.path.normpath(SPEC)}"
)


@functools.cache
def request_schema(path, method):
    with open(SPEC, encoding="utf-8") as fh:
        spec = json.load(fh)
    return spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def errors(instance, path, method):
    validator = validators.OAS30Validator(
        request_schema(path, method), format_checker=validators.oas30_format_checker
    )
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(instance)]


START = datetime.datetime(2031, 5, 6, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-4)))


def test_create_and_patch_bodies_on_the_wire_match_the_spec(zoom, http):
    conn, _, _, _ = connect(zoom, http, make_tutor())
    client = ZoomClient(conn, zoom.settings, http=http)
    created = client.create_meeting(
        meeting_body(
            topic="Daily Session – Writing Center",
            start_time=START,
            duration=480,
            timezone="America/New_York",
            agenda="portal:claim-7 " + "x" * 3000,
            password="a1-B2_c*",
            waiting_room=True,
        )
    )
    client.update_meeting(
        created["id"],
        meeting_patch(topic="Daily Session", duration=300, start_time=START, waiting_room=False),
    )
    sent_create = zoom.recorder.last("POST", "/v2/users/me/meetings").json
    sent_patch = zoom.recorder.last("PATCH", "/v2/meetings/").json
    assert sent_create["start_time"] == "2031-05-06T13:30:00Z"
    assert len(sent_create["agenda"]) <= 2000
    assert errors(sent_create, *CREATE) == []
    assert errors(sent_patch, *PATCH) == []


def test_the_schema_check_does_bite():
    assert errors({"type": "scheduled", "duration": "an hour"}, *CREATE)
    assert errors({"settings": {"approval_type": 7}}, *PATCH)
