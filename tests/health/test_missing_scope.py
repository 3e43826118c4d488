"""missing_scope: a Zoom token without a permission the portal needs (Zoom answers 4711)."""

import pytest
from support.health import connect, health_config, opened, scan, sim_state, today_meeting

from portal.health import notices
from portal.health.checks import BY_NAME, missing_scope
from portal.models import Finding, ZoomConnection
from portal.zoom import scopes
from portal.zoom.errors import ZoomScopeError
from portal.zoom.simulator.tokens import CLASSIC_SCOPES, GRANULAR_SCOPES
from portal.zoom.wiring import gateway

NO_DELETE = tuple(s for s in GRANULAR_SCOPES if s != "meeting:delete:meeting")


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


def grant_scopes(app, granted, mode="granular"):
    """The simulated app grants these scopes to the next authorizations."""
    config = sim_state(app).config
    config.scope_mode, config.scopes = mode, granted


# --- which operations a scope string allows ---------------------------------------------------


def test_complete_scope_strings_miss_nothing():
    assert scopes.missing(" ".join(GRANULAR_SCOPES)) == []
    assert scopes.missing(" ".join(CLASSIC_SCOPES)) == []
    assert scopes.missing("meeting:read:admin meeting:write:admin user:read:admin") == []
    assert scopes.missing("meeting:read meeting:write user_info:read") == []


def test_unknown_scopes_say_nothing():
    assert scopes.missing(None) is None and scopes.missing("  ") is None


def test_granular_scopes_without_delete_name_the_granular_scope():
    (item,) = scopes.missing(" ".join(NO_DELETE))
    assert item.need.key == "delete" and item.scope == "meeting:delete:meeting"
    assert not scopes.essential([item])
    assert scopes.phrase([item]) == "delete meetings (meeting:delete:meeting)"


def test_classic_scopes_without_write_miss_create_update_and_delete():
    missing = scopes.missing("meeting:read user:read")
    assert [m.need.key for m in missing] == ["create", "update", "delete"]
    assert {m.scope for m in missing} == {"meeting:write"} and scopes.essential(missing)


def test_the_4711_message_names_the_missing_scopes():
    message = "Invalid access token, does not contain scopes:[meeting:delete:meeting]"
    error = ZoomScopeError(4711, message, 400)
    assert error.scopes == ["meeting:delete:meeting"]
    two = ZoomScopeError(4711, "… scopes:[user:read:user, user:read:user:admin]", 400)
    assert [m.need.key for m in scopes.named(two.scopes)] == ["profile"]
    assert ZoomScopeError(4711, "Ungültiges Token", 400).scopes == []


# --- the simulator issues such tokens and answers 4711 -----------------------------------------


def test_simulator_token_without_delete_scope_gets_4711_on_delete(app, world):
    grant_scopes(app, NO_DELETE)
    tutor = world["tutor_a"]
    connect(app, tutor, "licensed")
    assert ZoomConnection.for_tutor(tutor).scopes == " ".join(NO_DELETE)
    meeting_id = today_meeting(tutor)
    client = gateway(app)(tutor)
    try:
        client.update_meeting(meeting_id, {"agenda": "still allowed"})
        with pytest.raises(ZoomScopeError) as caught:
            client.delete_meeting(meeting_id)
    finally:
        client.close()
    assert caught.value.code == 4711 and caught.value.status == 400
    assert "meeting:delete:meeting" in caught.value.scopes
    assert sim_state(app).meetings[meeting_id].agenda == "still allowed"  # nothing was deleted


# --- the health check ---------------------------------------------------------------------------


def test_granular_token_without_delete_is_a_warning_finding(app, world):
    grant_scopes(app, NO_DELETE)
    tutor = world["tutor_a"]
    connect(app, tutor, "licensed")
    report = scan(app)
    assert report.unchecked == 0  # the scan's own calls (profile, list, get) are allowed
    (finding,) = opened("missing_scope")
    assert finding.tutor_id == tutor.id and finding.severity == "warning"
    assert "delete meetings (meeting:delete:meeting)" in finding.detail
    assert "still creates the Daily Session" in finding.detail
    assert "Zoom App Marketplace" in finding.detail and "Connect again" in finding.detail
    assert finding.evidence["missing_scopes"] == ["meeting:delete:meeting"]
    assert finding.evidence["operations"] == ["delete"]


def test_finding_resolves_once_the_scopes_are_complete(app, world):
    grant_scopes(app, NO_DELETE)
    tutor = world["tutor_a"]
    connect(app, tutor, "licensed")
    scan(app)
    assert len(opened("missing_scope")) == 1
    grant_scopes(app, None)  # the app's administrator added the scope; the tutor reconnects
    connect(app, tutor, "licensed", session=False)
    report = scan(app)
    assert opened("missing_scope") == [] and report.resolved >= 1
    resolved = Finding.get(Finding.check == "missing_scope")
    assert resolved.resolution == missing_scope.RESOLVED


def test_no_create_scope_is_critical(app, world):
    grant_scopes(app, tuple(s for s in GRANULAR_SCOPES if s != "meeting:write:meeting"))
    connect(app, world["tutor_a"], "licensed", session=False)
    scan(app)
    (finding,) = opened("missing_scope")
    assert finding.severity == "critical" and "create meetings (meeting:write:meeting)" in (
        finding.detail
    )


def test_complete_or_unrecorded_scopes_raise_nothing(app, world):
    connect(app, world["tutor_a"], "licensed")  # classic, complete
    connect(app, world["tutor_b"], "google", session=False)
    ZoomConnection.update(scopes=None).where(ZoomConnection.tutor == world["tutor_b"].id).execute()
    scan(app)
    assert opened("missing_scope") == []


def test_the_check_is_in_the_catalogue_and_the_reconnect_notice():
    assert BY_NAME["missing_scope"] is missing_scope
    message = notices.message_for("missing_scope", "Tom")
    assert "permission" in message and "reconnect" in message
