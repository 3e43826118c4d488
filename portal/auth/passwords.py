"""Argon2id password hashing (argon2-cffi defaults: t=3, m=64 MiB, p=4)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both failures take as long.
_DUMMY_HASH = _hasher.hash("not-a-real-password-but-same-cost")

MIN_LENGTH = 8
MAX_LENGTH = 128


def hash_password(password):
    """Return an argon2id hash of password."""
    return _hasher.hash(password)


def verify_password(password_hash, password):
    """True if password matches the hash; never raises for a bad hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_time(password):
    """Spend one verification on the dummy hash (unknown account)."""
    verify_password(_DUMMY_HASH, password)


def needs_rehash(password_hash):
    """True if the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def password_problem(password):
    """A sentence saying what is wrong with a new password, or None."""
    if not password or len(password) < MIN_LENGTH:
        return f"Use a password of at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use a password of at most {MAX_LENGTH} characters."
    return None
