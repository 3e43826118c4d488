"""Guards shared by the OAuth and API code: secret-free logging, scoped insecure transport.

requests-oauthlib logs whole token dicts, request bodies (code, verifier,
refresh token) and Basic headers at DEBUG (RELIABILITY §1.5, E4). The app keeps
those loggers at WARNING (``portal.logging_setup``); as a second layer, every
logger under ``oauthlib``, ``requests_oauthlib`` and ``urllib3`` gets the
redacting filter, so even a DEBUG level set by hand never shows a secret.

oauthlib refuses ``http://`` endpoints unless ``OAUTHLIB_INSECURE_TRANSPORT`` is
set. The variable is process-wide, so it is set only while an OAuth call to a
loopback ``http://`` server (the simulator) runs, reference-counted across
threads, and never for any other URL.
"""

import contextlib
import logging
import os
import threading

import requests

from ..logging_setup import RedactingFilter

LIBRARY_LOGGERS = ("oauthlib", "requests_oauthlib", "urllib3")
_INSECURE = "OAUTHLIB_INSECURE_TRANSPORT"

_filter = RedactingFilter()
_lock = threading.Lock()
_depth = 0
_previous = None
_seen_loggers = -1


def protect_library_loggers():
    """Quiet the OAuth loggers unless configured, and redact every library log record."""
    global _seen_loggers
    known = len(logging.root.manager.loggerDict)
    if known == _seen_loggers:
        return  # nothing new since the last pass
    _seen_loggers = known
    for name in ("oauthlib", "requests_oauthlib"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in LIBRARY_LOGGERS
    ]
    for name in list(LIBRARY_LOGGERS) + names:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)


@contextlib.contextmanager
def oauth_transport(settings):
    """Allow oauthlib to use plain http only for a loopback OAuth server, only meanwhile."""
    global _depth, _previous
    if not settings.oauth_is_loopback_http:
        yield
        return
    with _lock:
        if _depth == 0:
            _previous = os.environ.get(_INSECURE)
            os.environ[_INSECURE] = "1"
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _previous is None:
                    os.environ.pop(_INSECURE, None)
                else:
                    os.environ[_INSECURE] = _previous
                _previous = None


@contextlib.contextmanager
def http_session(http):
    """Yield the caller's requests.Session, or a private one that is closed afterwards."""
    if http is not None:
        yield http
        return
    session = requests.Session()
    try:
        yield session
    finally:
        session.close()
