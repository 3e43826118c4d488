"""Errors the simulator answers with, in Zoom's two wire formats.

REST API (`/v2`): HTTP 4xx/429 with `{"code": <int>, "message": <str>}`
(plus `errors[]` for code 300).
OAuth endpoints: HTTP 400 with `{"reason": <str>, "error": <oauth error>}`.
"""


class ZoomError(Exception):
    """An API error: HTTP status, Zoom's numeric code, message, field errors, headers."""

    def __init__(self, status, code, message, *, errors=None, headers=None):
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})

    def body(self):
        """Return the JSON body Zoom sends for this error."""
        data = {"code": self.code, "message": self.message}
        if self.errors:
            data["errors"] = self.errors
        return data


# Zoom localizes `message` to the user's language (a Russian 3001 was seen in the wild).
LOCALIZED_MESSAGES = {
    124: "Недействительный токен доступа.",
    300: "Ошибка проверки.",
    1001: "Пользователь не существует.",
    3001: "Конференция не существует.",
    3003: "Вы не являетесь организатором конференции.",
}


class OAuthError(Exception):
    """A token-endpoint error: `{"reason": ..., "error": ...}` with HTTP 400 (or `status`)."""

    def __init__(self, error, reason, status=400):
        super().__init__(f"{error}: {reason}")
        self.error = error
        self.reason = reason
        self.status = status

    def body(self):
        """Return the JSON body Zoom sends for this error."""
        return {"reason": self.reason, "error": self.error}


class AuthorizeError(Exception):
    """The authorize request cannot be answered with a redirect (unknown client, bad redirect)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        self.code = code


def validation_failed(errors):
    """Return Zoom's code-300 error for a list of `(field, message)` pairs."""
    return ZoomError(
        400,
        300,
        "Validation Failed.",
        errors=[{"field": field, "message": message} for field, message in errors],
    )


def meeting_not_found(meeting_id):
    """Return Zoom's 404 code-3001 error for a missing, deleted or expired meeting."""
    return ZoomError(404, 3001, f"Meeting does not exist: {meeting_id}.")


def user_not_found(user_id):
    """Return Zoom's 404 code-1001 error for an unknown user."""
    return ZoomError(404, 1001, f"User does not exist: {user_id}.")
