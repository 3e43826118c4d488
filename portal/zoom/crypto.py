"""Zoom tokens at rest: MultiFernet encryption bound to the tutor (RELIABILITY §1.2).

Each token is stored as ``Fernet(json({"tutor_id", "zoom_user_id", "t": token}))``
under the first key of ``TOKEN_ENCRYPTION_KEYS``; every listed key can decrypt.
After decrypting, the tutor and Zoom user ids must match the row, so a ciphertext
moved between tutors is refused. ``rotate_keys()`` re-encrypts every row under
the first key so old keys can be retired.
"""

import json
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..db import retry_locked, write_tx
from ..models import ZoomConnection
from .errors import ZoomConfigError

log = logging.getLogger("portal.zoom.tokens")


def cipher(settings):
    """MultiFernet over TOKEN_ENCRYPTION_KEYS: the first key encrypts, all decrypt."""
    keys = settings.encryption_keys
    if not keys:
        raise ZoomConfigError("TOKEN_ENCRYPTION_KEYS is not set.")
    fernets = []
    for index, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise ZoomConfigError(
                f"TOKEN_ENCRYPTION_KEYS entry {index} is not a valid Fernet key."
            ) from None
    return MultiFernet(fernets)


def seal(token, *, tutor_id, zoom_user_id, settings):
    """Encrypt one token bound to its tutor and Zoom user."""
    plain = json.dumps({"tutor_id": tutor_id, "zoom_user_id": zoom_user_id, "t": token})
    return cipher(settings).encrypt(plain.encode()).decode("ascii")


class TokenBindingError(Exception):
    """A stored token could not be decrypted or belongs to someone else."""


def unseal(ciphertext, *, tutor_id, zoom_user_id, settings):
    """Decrypt one token and check that it belongs to this tutor and Zoom user."""
    if not ciphertext:
        raise TokenBindingError("no stored token")
    try:
        plain = cipher(settings).decrypt(ciphertext.encode("ascii"))
        data = json.loads(plain)
    except (InvalidToken, ValueError, UnicodeError):
        raise TokenBindingError("stored token could not be decrypted") from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise TokenBindingError("stored token has an unknown format")
    if data.get("tutor_id") != tutor_id or data.get("zoom_user_id") != zoom_user_id:
        raise TokenBindingError("stored token belongs to another connection")
    return data["t"]


def rotate_keys(settings):
    """Re-encrypt every stored token under the first key; return the number of rows rewritten."""
    fernet = cipher(settings)
    rotated = 0
    ids = [
        row.id
        for row in ZoomConnection.select(ZoomConnection.id).where(
            ZoomConnection.access_token_enc.is_null(False)
            | ZoomConnection.refresh_token_enc.is_null(False)
        )
    ]
    for conn_id in ids:
        for _attempt in range(5):
            row = ZoomConnection.get_or_none(ZoomConnection.id == conn_id)
            if row is None:
                break
            try:
                at = fernet.rotate(row.access_token_enc.encode()) if row.access_token_enc else None
                rt = (
                    fernet.rotate(row.refresh_token_enc.encode()) if row.refresh_token_enc else None
                )
            except InvalidToken:
                log.warning("rotate-keys: connection %s cannot be decrypted; left as is", conn_id)
                break

            def write(row=row, at=at, rt=rt):
                with write_tx():
                    # Compare-and-set on the version: never overwrite a concurrent refresh.
                    return (
                        ZoomConnection.update(
                            access_token_enc=at.decode() if at else None,
                            refresh_token_enc=rt.decode() if rt else None,
                        )
                        .where(
                            (ZoomConnection.id == row.id)
                            & (ZoomConnection.version == row.version)
                            & _same_ciphertexts(row)
                        )
                        .execute()
                    )

            if retry_locked(write, attempts=5) == 1:
                rotated += 1
                break
    log.info("rotate-keys: %s connection(s) re-encrypted", rotated)
    return rotated


def _same_ciphertexts(row):
    cond = []
    for field in (ZoomConnection.access_token_enc, ZoomConnection.refresh_token_enc):
        value = getattr(row, field.name)
        cond.append(field.is_null() if value is None else field == value)
    return cond[0] & cond[1]
