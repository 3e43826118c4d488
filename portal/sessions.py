"""Server-side sessions: the cookie carries a random id, the data lives in the database.

Why not Flask's signed-cookie session: a copied cookie would keep working after
logout until it expires (RELIABILITY §3.1), and the OAuth state and PKCE
verifier must be stored server-side (§1.1). Here logout deletes the row, login
issues a fresh id (fixation), and idle/absolute lifetimes are enforced on read.
The row's ``last_seen`` is written at most once per ``TOUCH_INTERVAL``, never on
every request.
"""

import datetime
import hashlib
import secrets

from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadData, URLSafeTimedSerializer
from peewee import JOIN
from werkzeug.datastructures import CallbackDict

from .db import retry_locked
from .models import User, WebSession, utcnow

TOUCH_INTERVAL = datetime.timedelta(minutes=5)
VISITOR_MAX_AGE = 2 * 3600  # seconds a visitor's signed cookie stays valid


def _hash(sid):
    return hashlib.sha256(sid.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """A dict that remembers whether it changed and can take a new id."""

    def __init__(self, initial=None, sid=None, row=None):
        def on_update(self):
            self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.row = row
        self.modified = False
        self.stale_sids = []
        self.visitor = False

    def regenerate(self):
        """Issue a new id and drop the old one (call on login and privilege change)."""
        if self.sid:
            self.stale_sids.append(self.sid)
        self.sid = None
        self.row = None
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    """Store signed-in sessions in the ``web_session`` table; visitors get no row.

    A visitor who has not logged in (the login form's CSRF token, a "next" page) keeps
    that little data in a signed, timed cookie, so anonymous traffic writes nothing.
    The first request with a signed-in user (login regenerates the id) gets a row.
    """

    def _signer(self, app):
        return URLSafeTimedSerializer(app.secret_key, salt="vmp-visitor-session")

    def open_session(self, app, request):
        if request.path.startswith(app.static_url_path + "/"):
            return ServerSession()  # static files need no session (and no query)
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 4000:
            return ServerSession()
        if "." in sid:  # a visitor's signed cookie (row ids have no dot)
            try:
                data = self._signer(app).loads(sid, max_age=VISITOR_MAX_AGE)
            except BadData:
                return ServerSession()
            session = ServerSession(data if isinstance(data, dict) else {})
            session.visitor = True
            return session
        if len(sid) > 100:
            return ServerSession()
        # The signed-in user comes with the session row (one query), for the user loader.
        row = (
            WebSession.select(WebSession, User)
            .join(User, JOIN.LEFT_OUTER, on=(WebSession.user == User.id))
            .where(WebSession.sid_hash == _hash(sid))
            .first()
        )
        now = utcnow()
        if (
            row is None
            or row.expires_at <= now
            or now - row.last_seen > app.config["SESSION_IDLE_TIMEOUT"]
        ):
            return ServerSession()
        return ServerSession(row.data or {}, sid=sid, row=row)

    def save_session(self, app, session, response):
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        for stale in session.stale_sids:
            WebSession.delete().where(WebSession.sid_hash == _hash(stale)).execute()
        session.stale_sids = []

        if not session:
            if session.row is not None:
                WebSession.delete().where(WebSession.sid_hash == session.row.sid_hash).execute()
                session.row = None
            if session.modified or session.sid:
                response.delete_cookie(name, domain=domain, path=path)
            return

        if not session.get("_user_id"):
            self._save_visitor(app, session, response)
            return
        now = utcnow()
        if session.sid is None or session.row is None:
            session.sid = secrets.token_urlsafe(32)
            expires = now + app.permanent_session_lifetime
            user_id = session.get("_user_id")
            retry_locked(
                lambda: WebSession.insert(
                    sid_hash=_hash(session.sid),
                    user=int(user_id) if user_id else None,
                    data=dict(session),
                    created_at=now,
                    last_seen=now,
                    expires_at=expires,
                ).execute()
            )
            session.row = WebSession(sid_hash=_hash(session.sid), expires_at=expires)
        elif session.modified:
            user_id = session.get("_user_id")
            WebSession.update(
                data=dict(session), last_seen=now, user=int(user_id) if user_id else None
            ).where(WebSession.sid_hash == session.row.sid_hash).execute()
        elif now - session.row.last_seen > TOUCH_INTERVAL:
            WebSession.update(last_seen=now).where(
                WebSession.sid_hash == session.row.sid_hash
            ).execute()
        else:
            return  # nothing changed: no write, no new cookie

        response.set_cookie(
            name,
            session.sid,
            expires=session.row.expires_at.replace(tzinfo=datetime.UTC),
            httponly=self.get_cookie_httponly(app),
            domain=domain,
            path=path,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )

    def _save_visitor(self, app, session, response):
        """A visitor's data in a signed cookie (re-signed only when it changed)."""
        if session.row is not None:  # a row from before, for a session that logged out
            WebSession.delete().where(WebSession.sid_hash == session.row.sid_hash).execute()
            session.row = None
        if not session.modified and getattr(session, "visitor", False):
            return
        response.set_cookie(
            self.get_cookie_name(app),
            self._signer(app).dumps(dict(session)),
            max_age=int(VISITOR_MAX_AGE),
            httponly=self.get_cookie_httponly(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )


def session_user(session, user_id):
    """The user loaded with the session row, if it is ``user_id`` (no query), else None."""
    row = getattr(session, "row", None)
    if row is None or row.user_id != user_id or "user" not in row.__rel__:
        return None
    return row.user


def end_user_sessions(user):
    """Delete every session of a user (logout everywhere, deactivation)."""
    WebSession.delete().where(WebSession.user == user).execute()


def purge_expired():
    """Delete expired sessions; returns how many."""
    return WebSession.delete().where(WebSession.expires_at <= utcnow()).execute()
