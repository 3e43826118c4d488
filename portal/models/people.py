"""Centers, the people in them, and their login sessions."""

from peewee import SQL, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, fn

from .. import clock
from .base import BaseModel, JSONTextField, utcnow


class Center(BaseModel):
    name = CharField(max_length=200, unique=True)
    timezone = CharField(max_length=64, default="America/New_York")
    virtual_meetings_enabled = BooleanField(default=False)
    waiting_room_default = BooleanField(default=True)
    opens_at = CharField(max_length=5, default="09:00")  # HH:MM, center local time
    closes_at = CharField(max_length=5, default="17:00")
    allow_connect_links = BooleanField(default=True)
    waiting_room_limit_minutes = IntegerField(default=5)
    slot_minutes = IntegerField(default=30)  # booking grid, from opens_at (migration 0006)
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def is_virtual(cls):
        """The predicate "Virtual Meetings switched on"."""
        return cls.virtual_meetings_enabled == True  # noqa: E712

    @classmethod
    def with_virtual_meetings(cls):
        """Centers with Virtual Meetings switched on."""
        return cls.select().where(cls.is_virtual())

    @classmethod
    def of(cls, user):
        """The centers ``user`` (a row, an id or an id column) is a member of, by name."""
        return cls.select().join(Membership).where(Membership.user == user).order_by(cls.name)

    @classmethod
    def home_of(cls, user):
        """SQL for a user's home center id: the first by name with Virtual Meetings on, else
        the first by name (the column form of ``User.home_center``, for findings)."""
        first = cls.of(user).select(cls.id).limit(1)
        return fn.COALESCE(first.where(cls.is_virtual()), first)

    def today(self, now=None):
        """Today's date at this center."""
        return clock.today(self.timezone, now)

    def local(self, moment):
        """A naive-UTC datetime as an aware datetime in this center's time zone."""
        return clock.to_local(moment, self.timezone)

    def day_bounds(self, day):
        """The naive-UTC [start, end) of one of this center's dates."""
        return clock.day_bounds(self.timezone, day)

    def tutors(self):
        """Active tutors who belong to this center."""
        return (
            User.select()
            .join(Membership)
            .where(Membership.center == self, User.is_active_tutor())
            .order_by(User.name)
        )

    def members(self):
        """Every user who belongs to this center."""
        return User.select().join(Membership).where(Membership.center == self).order_by(User.name)


class User(BaseModel):
    # role values
    STUDENT = "student"
    TUTOR = "tutor"
    CENTER_ADMIN = "center_admin"
    ACCOUNT_ADMIN = "account_admin"

    email = CharField(max_length=254, unique=True)  # stored lower-case
    name = CharField(max_length=200)
    role = CharField(
        max_length=20,
        constraints=[SQL("CHECK (role IN ('student','tutor','center_admin','account_admin'))")],
    )
    password_hash = CharField(max_length=255)
    active = BooleanField(default=True)
    connect_link = CharField(max_length=500, null=True)  # legacy field for tutors
    # Bumped on logout-everywhere, password or role change and deactivation;
    # a session carrying an older value is refused (RELIABILITY §3.1).
    session_version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)
    # The user's own IANA time zone for times on pages; None = the center's (issue 14).
    timezone = CharField(max_length=64, null=True)

    def centers(self):
        """Centers this user belongs to (all of them for an account admin)."""
        if self.role == User.ACCOUNT_ADMIN:
            return Center.select().order_by(Center.name)
        return Center.of(self)

    def virtual_centers(self):
        """The centers this user is a member of that have Virtual Meetings on, by name."""
        return Center.of(self).where(Center.is_virtual())

    def home_center(self):
        """The home center: the first (by name) with Virtual Meetings on, or None.

        Sessions are made there and findings are filed under it (``Center.home_of``).
        """
        return self.virtual_centers().first()

    def finding_center(self):
        """The center findings about this user are filed under: the home center, else the
        first by name (``Center.home_of`` in SQL); None without any membership."""
        return self.home_center() or self.centers().first()

    @classmethod
    def is_enabled(cls):
        """The predicate "not deactivated"."""
        return cls.active == True  # noqa: E712

    @classmethod
    def is_active_tutor(cls):
        """The predicate "a tutor who is not deactivated"."""
        return (cls.role == cls.TUTOR) & cls.is_enabled()

    @classmethod
    def by_email(cls, email):
        """The user with this e-mail (case-insensitive), or None."""
        return cls.get_or_none(cls.email == (email or "").strip().lower())

    # The four members flask-login expects (kept here so models import no Flask).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return bool(self.active)

    def get_id(self):
        return str(self.id)

    def __repr__(self):
        return f"<User {self.id} {self.role}>"


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    center = ForeignKeyField(Center, backref="memberships", on_delete="CASCADE")

    class Meta:
        indexes = ((("user", "center"), True),)


class WebSession(BaseModel):
    """A server-side login session; the cookie holds only a random id."""

    sid_hash = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, null=True, on_delete="CASCADE", backref="+")
    data = JSONTextField(default=dict)
    created_at = DateTimeField(default=utcnow)
    last_seen = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)


class LoginAttempt(BaseModel):
    """Failed logins, counted per e-mail and per address for throttling."""

    email = CharField(max_length=254, index=True)
    ip = CharField(max_length=64, index=True)
    created_at = DateTimeField(default=utcnow, index=True)


class PasswordToken(BaseModel):
    """A single-use link to set a password: "Forgot password" (reset) or a new user's invitation.

    Only the SHA-256 of the token is stored (lookup); the token itself is an HMAC of
    ``nonce`` under the app's SECRET_KEY, so the e-mail can be written when it is sent
    while the database alone never gives the link away. ``used_at`` is set once, by a
    conditional UPDATE, so a link works once even when two requests race.
    """

    RESET = "reset"
    INVITE = "invite"

    user = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    purpose = CharField(max_length=10)  # reset | invite
    token_hash = CharField(max_length=64, unique=True)
    nonce = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)
    used_at = DateTimeField(null=True)
