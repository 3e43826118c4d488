"""OAuth behaviour of the simulator: authorization codes, rotating token pairs, bearer checks.

Contract reproduced (ZOOM_API.md §1, §9.1-9.2):
- codes are single use and expire after `code_lifetime` (300 s); PKCE `S256` (and `plain`) checked;
  `redirect_uri` at the token endpoint must equal the one used at authorize;
- a code exchange revokes every earlier pair of that user (re-authorization, Zoom 4741);
- a refresh issues a new access + refresh token; the presented refresh token is dead at once
  (`{"reason":"Invalid Token!","error":"invalid_grant"}`); the previous access token stays valid
  until it expires;
- revoking a token (or deauthorizing) kills every pair of that user and fires `app_deauthorized`;
- bearer check: unknown/revoked → 401 124 "Invalid access token.", expired → 401 124
  "Access token is expired."; missing scope → 400 4711.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from .errors import AuthorizeError, OAuthError, ZoomError

CLASSIC_SCOPES = ("meeting:read", "meeting:write", "user:read")
GRANULAR_SCOPES = (
    "meeting:read:meeting",
    "meeting:read:list_meetings",
    "meeting:write:meeting",
    "meeting:update:meeting",
    "meeting:delete:meeting",
    "user:read:user",
    "user:read:settings",
)
# operation → (classic scope, granular scope); the ":admin" variants are accepted too.
ENDPOINT_SCOPES = {
    "user": ("user:read", "user:read:user"),
    "user_settings": ("user:read", "user:read:settings"),
    "meeting_create": ("meeting:write", "meeting:write:meeting"),
    "meeting_get": ("meeting:read", "meeting:read:meeting"),
    "meeting_update": ("meeting:write", "meeting:update:meeting"),
    "meeting_delete": ("meeting:write", "meeting:delete:meeting"),
    "meeting_list": ("meeting:read", "meeting:read:list_meetings"),
}
INVALID_TOKEN = "Invalid Token!"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_JWT_HEADER = _b64(
    json.dumps({"sv": "00000002", "alg": "HS512", "v": "2.0", "kid": "sim"}).encode()
)


def new_token():
    """Return an opaque, JWT-looking token (clients must treat tokens as opaque)."""
    return f"{_JWT_HEADER}.{secrets.token_urlsafe(96)}.{secrets.token_urlsafe(48)}"


def pkce_s256(verifier):
    """Return the S256 code challenge of a verifier."""
    return _b64(hashlib.sha256(verifier.encode()).digest())


@dataclass
class AuthCode:
    code: str
    user_id: str
    redirect_uri: str
    scopes: tuple
    expires_at: object
    challenge: str | None = None
    method: str | None = None
    used: bool = False


@dataclass
class Grant:
    """One access/refresh token pair."""

    user_id: str
    access_token: str
    refresh_token: str
    scopes: tuple
    issued_at: object
    access_expires_at: object
    refresh_expires_at: object
    refresh_used: bool = False
    revoked: bool = False
    revoked_reason: str = ""

    @property
    def granular(self):
        """Granular scopes have three parts (``meeting:read:admin`` is a classic admin scope)."""
        return any(scope.removesuffix(":admin").count(":") >= 2 for scope in self.scopes)


class TokensMixin:
    """OAuth part of `SimulatorState` (expects `lock`, `config`, `users`, `now()`, `webhooks`)."""

    # authorize --------------------------------------------------------------------------------

    def check_client(self, client_id, client_secret):
        """Return whether the client credentials are the configured app's."""
        return hmac.compare_digest(str(client_id or ""), self.config.client_id) and (
            hmac.compare_digest(str(client_secret or ""), self.config.client_secret)
        )

    def redirect_allowed(self, uri, host_url=None):
        """Return whether `uri` is on the app's redirect allow-list (see `SimConfig`)."""
        parts = urlsplit(uri or "")
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.fragment:
            return False
        for allowed in self.config.redirect_uris:
            if allowed.startswith("{loopback}"):
                path = allowed[len("{loopback}") :]
                if (
                    parts.hostname in LOOPBACK_HOSTS
                    and uri == f"{parts.scheme}://{parts.netloc}{path}"
                ):
                    return True
                continue
            if allowed.startswith("{host_url}"):
                if not host_url:
                    continue
                allowed = host_url.rstrip("/") + allowed[len("{host_url}") :]
            if uri == allowed:
                return True
        return False

    def check_authorize(self, args, host_url=None):
        """Validate authorize parameters; raise `AuthorizeError` when no redirect is allowed."""
        if args.get("client_id") != self.config.client_id:
            raise AuthorizeError("Invalid client_id: this app does not exist.", 4702)
        if not self.redirect_allowed(args.get("redirect_uri"), host_url):
            raise AuthorizeError(
                "Invalid redirect: the redirect_uri is not on this app's allow list.", 4709
            )
        if args.get("response_type") != "code":
            raise AuthorizeError("Unsupported response_type: only 'code' is supported.", 4705)
        method = args.get("code_challenge_method")
        if args.get("code_challenge") and (method or "plain") not in {"S256", "plain"}:
            raise AuthorizeError("Unsupported code_challenge_method: use S256.", 4700)

    def issue_code(self, user_ref, redirect_uri, code_challenge=None, method=None, scopes=None):
        """Approve the app as `user_ref` (key, id or email); return a fresh authorization code.

        The grant carries the app's configured scopes, or `scopes` when given (one user's
        grant made while the app lacked some, e.g. for the demo)."""
        with self.lock:
            user = self.user(user_ref)
            if user.deleted:
                raise KeyError(user_ref)
            code = secrets.token_urlsafe(24)
            self.codes[code] = AuthCode(
                code=code,
                user_id=user.id,
                redirect_uri=redirect_uri,
                scopes=tuple(scopes) if scopes is not None else self.config.granted_scopes(),
                expires_at=self.now() + timedelta(seconds=self.config.code_lifetime),
                challenge=code_challenge or None,
                method=(method or "plain") if code_challenge else None,
            )
            return code

    # token endpoint ---------------------------------------------------------------------------

    def exchange_code(self, code, redirect_uri, code_verifier=None):
        """Trade an authorization code for a new pair; earlier pairs of the user die."""
        with self.lock:
            entry = self.codes.get(code or "")
            if entry is None or entry.used:
                raise OAuthError(
                    "invalid_grant", f"Invalid authorization code {code or ''}".strip()
                )
            entry.used = True  # any attempt burns the code
            if self.now() >= entry.expires_at:
                raise OAuthError("invalid_grant", "Code is expired")
            if redirect_uri != entry.redirect_uri:
                raise OAuthError("invalid_grant", "Redirect URI mismatch.")
            if entry.challenge:
                expected = entry.challenge
                given = code_verifier or ""
                actual = pkce_s256(given) if entry.method == "S256" else given
                if not given or not hmac.compare_digest(actual, expected):
                    raise OAuthError("invalid_grant", "Invalid code_verifier")
            user = self.users.get(entry.user_id)
            if user is None or user.deleted:
                raise OAuthError("invalid_grant", "The owner of the token does not exist")
            self._revoke_user_grants(user.id, "reauthorized")
            user.last_login_time = self.now()
            return self._new_grant(user.id, entry.scopes)

    def refresh(self, refresh_token):
        """Rotate: return a new pair and kill the presented refresh token."""
        with self.lock:
            grant = self._by_refresh.get(refresh_token or "")
            if grant is None:
                raise OAuthError("invalid_grant", INVALID_TOKEN)
            user = self.users.get(grant.user_id)
            if user is None or user.deleted:
                raise OAuthError("invalid_grant", "The owner of the token does not exist")
            if grant.revoked or grant.refresh_used or self.now() >= grant.refresh_expires_at:
                raise OAuthError("invalid_grant", INVALID_TOKEN)
            grant.refresh_used = True
            return self._new_grant(grant.user_id, grant.scopes)

    def revoke_token(self, token, *, deliver=True):
        """Revoke the pair holding `token` and all its siblings; fire `app_deauthorized`."""
        with self.lock:
            grant = self._by_access.get(token or "") or self._by_refresh.get(token or "")
            if grant is None or grant.revoked:
                return None
            user_id = grant.user_id
            self._revoke_user_grants(user_id, "revoked")
        self.emit_deauthorized(user_id, deliver=deliver)
        return grant

    def token_response(self, grant):
        """Return the token endpoint's success body (ZOOM_API.md §1.3)."""
        return {
            "access_token": grant.access_token,
            "token_type": "bearer",
            "refresh_token": grant.refresh_token,
            "expires_in": self.config.access_token_lifetime - 1,
            "scope": " ".join(grant.scopes),
        }

    # API auth ---------------------------------------------------------------------------------

    def authenticate(self, authorization):
        """Return `(user, grant)` for an `Authorization: Bearer` header or raise 401 code 124."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ZoomError(401, 124, "Invalid access token.")
        with self.lock:
            grant = self._by_access.get(token.strip())
            if grant is None or grant.revoked:
                raise ZoomError(401, 124, "Invalid access token.")
            if self.now() >= grant.access_expires_at:
                raise ZoomError(401, 124, "Access token is expired.")
            user = self.users.get(grant.user_id)
            if user is None or user.deleted:
                raise ZoomError(401, 124, "Invalid access token.")
            return user, grant

    def require_scope(self, grant, operation):
        """Raise 400 code 4711 unless the grant carries a scope that allows `operation`."""
        classic, granular = ENDPOINT_SCOPES[operation]
        accepted = {classic, classic + ":admin", granular, granular + ":admin"}
        if operation == "user":
            accepted.add("user_info:read")
        if accepted & set(grant.scopes):
            return
        needed = granular if grant.granular else classic
        raise ZoomError(
            400,
            4711,
            f"Invalid access token, does not contain scopes:[{needed}, {needed}:admin]",
        )

    # helpers ----------------------------------------------------------------------------------

    def _new_grant(self, user_id, scopes):
        now = self.now()
        grant = Grant(
            user_id=user_id,
            access_token=new_token(),
            refresh_token=new_token(),
            scopes=tuple(scopes),
            issued_at=now,
            access_expires_at=now + timedelta(seconds=self.config.access_token_lifetime),
            refresh_expires_at=now + timedelta(seconds=self.config.refresh_token_lifetime),
        )
        self.grants.append(grant)
        self._by_access[grant.access_token] = grant
        self._by_refresh[grant.refresh_token] = grant
        return grant

    def _revoke_user_grants(self, user_id, reason):
        count = 0
        for grant in self.grants:
            if grant.user_id == user_id and not grant.revoked:
                grant.revoked = True
                grant.revoked_reason = reason
                count += 1
        return count

    def grants_of(self, user_ref):
        """Return the user's grants, newest first (for tests and the control page)."""
        with self.lock:
            user = self.user(user_ref)
            return [g for g in reversed(self.grants) if g.user_id == user.id]

    def token_summary(self, user):
        """Describe the user's token state without revealing any token value."""
        with self.lock:
            grants = [g for g in reversed(self.grants) if g.user_id == user.id]
            if not grants:
                return {"state": "never authorized", "grants": 0, "access_expires_at": None}
            latest = grants[0]
            now = self.now()
            if latest.revoked:
                state = f"revoked ({latest.revoked_reason})"
            elif latest.refresh_used:
                state = "refresh token used (pair rotated away)"
            elif now >= latest.refresh_expires_at:
                state = "refresh token expired"
            elif now >= latest.access_expires_at:
                state = "access token expired, refresh token valid"
            else:
                state = "active"
            return {
                "state": state,
                "grants": len(grants),
                "access_expires_at": latest.access_expires_at,
                "scopes": " ".join(latest.scopes),
            }
