"""Sending e-mail: ``MAIL_URL`` parsed once, one SMTP connection per delivery run.

Contract (DESIGN §8):
- ``smtp://[user:pass@]host[:port]`` (port 25 by default): STARTTLS whenever the server
  offers it, verified against the system's certificate authorities; without STARTTLS
  the message goes in plain text, but a password never does (the send fails instead);
- ``smtps://[user:pass@]host[:port]`` (port 465 by default): TLS from the first byte;
- ``MAIL_FROM``: the sender, ``Name <address>`` or a bare address.

Every SMTP command has a timeout. Header values are cleaned here, in one place: a
display name or subject with CR/LF or other control characters is flattened to one
line, so a user's name can never add a header, and the envelope recipient is given
explicitly, never read back from the headers. Nothing here logs the URL (it may carry
a password) or a message body.
"""

import re
import smtplib
import socket
import ssl
import unicodedata
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

TIMEOUT_SECONDS = 15
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$"
)


class MailConfigError(ValueError):
    """MAIL_URL or MAIL_FROM cannot be used; the message names the setting."""


class MailError(Exception):
    """A message could not be handed to the mail server.

    ``connection`` is True when nothing else can be sent on this run either (the
    server is down, refused the login, or dropped us); the message stays queued.
    """

    def __init__(self, message, connection=False):
        super().__init__(message)
        self.connection = connection


@dataclass(frozen=True)
class MailURL:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def where(self):
        """host:port, safe to log or show (never the password)."""
        return f"{self.host}:{self.port}"

    def __repr__(self):
        return f"MailURL({self.scheme}://{self.where})"


def parse_mail_url(url):
    """Parse MAIL_URL; MailConfigError says what is wrong with it."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in {"smtp", "smtps"}:
        raise MailConfigError(
            "MAIL_URL must start with smtp:// (STARTTLS where offered) or smtps:// (TLS)."
        )
    try:
        port = parts.port
    except ValueError:
        raise MailConfigError("MAIL_URL has a port that is not a number.") from None
    if not parts.hostname:
        raise MailConfigError("MAIL_URL names no host, e.g. smtp://mail.example.edu:587.")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if username and not password:
        raise MailConfigError("MAIL_URL has a user but no password (smtp://user:pass@host).")
    default = 465 if parts.scheme == "smtps" else 25
    return MailURL(parts.scheme, parts.hostname, port or default, username, password)


def one_line(value, limit=200):
    """Text fit for a header: NFC, control characters and line breaks become one space."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text[:limit]


def valid_address(address):
    """True for a plain address (no display name, no spaces, no line breaks)."""
    return bool(_ADDRESS.match(address or ""))


def parse_sender(value):
    """MAIL_FROM as an Address; MailConfigError when it is not an e-mail address."""
    name, address = parseaddr(one_line(value, 300))
    if not valid_address(address):
        raise MailConfigError("MAIL_FROM must be an e-mail address, e.g. Portal <portal@x.edu>.")
    return Address(display_name=one_line(name), addr_spec=address)


def build_message(
    *, sender, to_name, to_address, subject, text, message_id, ics=None, ics_method=None
):
    """An RFC 5322 message: plain text, and an invitation (text/calendar) when given."""
    if not valid_address(to_address):
        raise MailError("the recipient's e-mail address is not valid")
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = Address(display_name=one_line(to_name), addr_spec=to_address)
    message["Subject"] = one_line(subject, 250)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message.set_content(text)
    if ics:
        message.add_attachment(
            ics,
            subtype="calendar",
            filename="invitation.ics",
            params={"method": ics_method or "PUBLISH"},
        )
    return message


class SMTPTransport:
    """Connects on the first send, reuses the connection, closes on ``close()``."""

    name = "smtp"

    def __init__(self, url, sender, timeout=TIMEOUT_SECONDS, context_factory=None):
        self.url = url
        self.sender = sender
        self.timeout = timeout
        self.context_factory = context_factory or ssl.create_default_context
        self.smtp = None

    def _open(self):
        url = self.url
        try:
            if url.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(
                    url.host, url.port, timeout=self.timeout, context=self.context_factory()
                )
            else:
                smtp = smtplib.SMTP(url.host, url.port, timeout=self.timeout)
            try:
                smtp.ehlo()
                if url.scheme == "smtp" and smtp.has_extn("starttls"):
                    smtp.starttls(context=self.context_factory())
                    smtp.ehlo()
                elif url.scheme == "smtp" and url.username:
                    raise MailError(
                        f"the mail server {url.where} does not offer STARTTLS, so the "
                        "password was not sent; use smtps:// or a server with STARTTLS",
                        connection=True,
                    )
                if url.username:
                    try:
                        smtp.login(url.username, url.password)
                    except smtplib.SMTPServerDisconnected:  # some servers hang up on 535
                        raise smtplib.SMTPAuthenticationError(535, b"closed at login") from None
            except BaseException:
                smtp.close()
                raise
        except MailError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"the mail server {url.where} refused the user name or password ({exc.smtp_code})",
                connection=True,
            ) from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise MailError(
                f"could not connect to the mail server {url.where}: {_why(exc)}", connection=True
            ) from None
        self.smtp = smtp

    def send(self, message, to_address):
        """Hand one message to the server for exactly ``to_address``."""
        if self.smtp is None:
            self._open()
        try:
            refused = self.smtp.send_message(
                message, from_addr=self.sender.addr_spec, to_addrs=[to_address]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, _text = next(iter(exc.recipients.values()), (0, b""))
            raise MailError(f"the mail server refused the recipient ({code})") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise MailError(f"the mail server refused the message ({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise MailError(f"the mail server stopped answering: {_why(exc)}", True) from None
        if refused:
            raise MailError("the mail server refused the recipient")

    def _drop(self):
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def close(self):
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            self._drop()


class OutboxTransport:
    """Development without MAIL_URL: the message is kept for the outbox page, not sent."""

    name = "outbox"

    def send(self, message, to_address):
        return None

    def close(self):
        return None


def _why(exc):
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"server said {exc.smtp_code}"
    return type(exc).__name__
