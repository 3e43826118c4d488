"""Tokens at rest: encryption bound to the tutor, key rotation, and unusable connections."""

import datetime

import pytest
from cryptography.fernet import Fernet

from portal.models import ZoomConnection, utcnow
from portal.zoom import (
    ZoomClient,
    ZoomConfigError,
    ZoomNotConnected,
    ZoomReauthRequired,
    rotate_keys,
    store_new_connection,
)
from portal.zoom.tokens import TokenBindingError, TokenSource, seal, unseal

from .helpers import PROFILE, fake_token, make_settings, make_tutor, reload


def connect(tutor, settings, token=None, profile=None):
    return store_new_connection(tutor, profile or PROFILE, token or fake_token(), settings)


def test_store_new_connection_encrypts_and_maps_profile(tutor, settings):
    token = fake_token()
    before = utcnow()
    conn = reload(connect(tutor, settings, token))
    assert conn.zoom_user_id == "zoomuser-1"
    assert conn.account_id == "acct-1"
    assert conn.email == "host@example.edu"
    assert conn.user_type == 2
    assert conn.login_types == [100]
    assert conn.pmi == 3542471135
    assert conn.personal_meeting_url.endswith("3542471135?pwd=abc")
    assert conn.scopes == "meeting:read meeting:write user:read"
    assert conn.status == "active" and conn.version == 0
    assert before + datetime.timedelta(seconds=3590) < conn.expires_at
    for secret in (token["access_token"], token["refresh_token"]):
        assert secret not in conn.access_token_enc + conn.refresh_token_enc
        assert secret not in repr(conn)
    assert (
        unseal(
            conn.access_token_enc, tutor_id=tutor.id, zoom_user_id="zoomuser-1", settings=settings
        )
        == token["access_token"]
    )


def test_reconnect_ends_the_previous_row(tutor, settings):
    first = connect(tutor, settings)
    other = dict(PROFILE, id="zoomuser-2")
    second = connect(tutor, settings, profile=other)
    old = reload(first)
    assert old.ended_at is not None and old.status == "ended"
    assert old.revoke_pending and old.access_token_enc  # different Zoom user: revoke later
    third = connect(tutor, settings, profile=other)
    old2 = reload(second)
    assert old2.ended_at is not None and old2.access_token_enc is None  # same user: Zoom revoked
    assert ZoomConnection.for_tutor(tutor).id == third.id
    assert ZoomConnection.current().where(ZoomConnection.tutor == tutor).count() == 1


def test_unseal_checks_the_binding(settings):
    ct = seal("tok", tutor_id=1, zoom_user_id="z", settings=settings)
    assert unseal(ct, tutor_id=1, zoom_user_id="z", settings=settings) == "tok"
    with pytest.raises(TokenBindingError):
        unseal(ct, tutor_id=2, zoom_user_id="z", settings=settings)
    with pytest.raises(TokenBindingError):
        unseal(ct, tutor_id=1, zoom_user_id="other", settings=settings)
    with pytest.raises(TokenBindingError):
        unseal("not-a-token", tutor_id=1, zoom_user_id="z", settings=settings)


def test_ciphertext_swap_between_tutors_needs_reauth_without_zoom(settings, no_network):
    alice, bob = make_tutor("Alice"), make_tutor("Bob")
    a = connect(alice, settings)
    b = connect(bob, settings, profile=dict(PROFILE, id="zoomuser-bob"))
    ZoomConnection.update(
        access_token_enc=b.access_token_enc, refresh_token_enc=b.refresh_token_enc
    ).where(ZoomConnection.id == a.id).execute()
    client = ZoomClient(alice, settings, http=no_network)
    with pytest.raises(ZoomReauthRequired):
        client.me()
    row = reload(a)
    assert row.status == "needs_reauth"
    assert "stored token" in row.last_error
    with pytest.raises(ZoomReauthRequired):
        client.me()
    assert no_network.recorder.requests == []
    assert reload(b).status == "active"


def test_undecryptable_token_needs_reauth(tutor, settings, no_network):
    conn = connect(tutor, settings)
    stranger = make_settings(keys=[Fernet.generate_key().decode()])
    with pytest.raises(ZoomReauthRequired):
        ZoomClient(conn, stranger, http=no_network).get_meeting(12345678901)
    assert reload(conn).status == "needs_reauth"
    assert no_network.recorder.requests == []


@pytest.mark.parametrize("status", ["needs_reauth", "revoked", "deauthorized", "ended"])
def test_unusable_connection_raises_without_http(tutor, settings, no_network, status):
    conn = connect(tutor, settings)
    ZoomConnection.update(status=status).where(ZoomConnection.id == conn.id).execute()
    with pytest.raises(ZoomReauthRequired) as info:
        ZoomClient(conn, settings, http=no_network).list_meetings()
    assert info.value.connection_status == status
    assert no_network.recorder.requests == []


def test_tutor_without_connection(tutor, settings, no_network):
    with pytest.raises(ZoomNotConnected):
        ZoomClient(tutor, settings, http=no_network).me()


def test_fresh_token_is_used_from_the_database(tutor, settings, no_network):
    token = fake_token()
    conn = connect(tutor, settings, token)
    assert TokenSource(conn, settings, no_network).get() == (token["access_token"], 0)


def test_loser_waits_for_the_lease_owner_and_never_calls_zoom(tutor, settings, no_network):
    conn = connect(tutor, settings)
    now = utcnow()
    ZoomConnection.update(
        expires_at=now - datetime.timedelta(seconds=5),
        lease_owner="someone-else",
        lease_until=now + datetime.timedelta(seconds=30),
    ).where(ZoomConnection.id == conn.id).execute()
    new = fake_token(2)
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:  # the owner finishes while we wait
            ZoomConnection.update(
                access_token_enc=seal(
                    new["access_token"],
                    tutor_id=tutor.id,
                    zoom_user_id="zoomuser-1",
                    settings=settings,
                ),
                expires_at=utcnow() + datetime.timedelta(seconds=3599),
                version=ZoomConnection.version + 1,
                lease_owner=None,
                lease_until=None,
            ).where(ZoomConnection.id == conn.id).execute()

    token, version = TokenSource(conn, settings, no_network, sleep=sleep).get()
    assert token == new["access_token"] and version == 1
    assert len(sleeps) == 3 and all(0 < s <= 0.25 for s in sleeps)
    assert no_network.recorder.requests == []


def test_rotate_keys_lets_the_old_key_go(settings, no_network):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old = make_settings(keys=[old_key])
    tutors = [make_tutor() for _ in range(3)]
    tokens = [fake_token(i) for i in range(3)]
    conns = [connect(t, old, tok) for t, tok in zip(tutors, tokens, strict=True)]
    assert rotate_keys(make_settings(keys=[new_key, old_key])) >= 3
    only_new = make_settings(keys=[new_key])
    for conn, tok in zip(conns, tokens, strict=True):
        assert TokenSource(conn, only_new, no_network).get()[0] == tok["access_token"]
        row = reload(conn)
        with pytest.raises(TokenBindingError):
            unseal(
                row.refresh_token_enc,
                tutor_id=row.tutor_id,
                zoom_user_id=row.zoom_user_id,
                settings=old,
            )
    assert rotate_keys(only_new) >= 3  # idempotent


def test_bad_keys_are_a_config_error(tutor):
    with pytest.raises(ZoomConfigError):
        connect(tutor, make_settings(keys=["not-a-fernet-key"]))
    with pytest.raises(ZoomConfigError):
        seal("t", tutor_id=1, zoom_user_id="z", settings=make_settings(encryption_keys=""))
