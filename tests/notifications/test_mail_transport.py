"""MAIL_URL over the wire: STARTTLS when offered, smtps:// from the first byte, a password
never in plain text, and never in a log line."""

import datetime
import ipaddress
import logging
import ssl

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.mail import SENDER, SMTPServer

from portal.mail import MailError, SMTPTransport, build_message, parse_mail_url, parse_sender

PASSWORD = "s3cret-mail-pass"


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted through SSL_CERT_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def _auth(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


def _message(to="stu@x.edu"):
    return build_message(
        sender=parse_sender(SENDER),
        to_name="Stu",
        to_address=to,
        subject="Hello",
        text="Body",
        message_id="<vmp.1.x@portal.example.edu>",
    )


def _send(url, to="stu@x.edu"):
    transport = SMTPTransport(parse_mail_url(url), parse_sender(SENDER), timeout=5)
    try:
        transport.send(_message(to), to)
    finally:
        transport.close()


def test_starttls_is_used_when_offered_and_the_login_happens_inside_it(certificate):
    server = SMTPServer(
        tls_context=certificate,
        require_starttls=True,
        authenticator=_auth,
        auth_require_tls=True,
    ).start()
    try:
        _send(f"smtp://portal%40x.edu:{PASSWORD}@127.0.0.1:{server.port}")
        (mail,) = server.messages
        assert mail.rcpt_tos == ["stu@x.edu"] and mail.subject == "Hello"
        with pytest.raises(MailError, match="refused the user name or password"):
            _send(f"smtp://portal%40x.edu:wrong@127.0.0.1:{server.port}")
    finally:
        server.stop()


def test_smtps_speaks_tls_from_the_first_byte(certificate):
    # aiosmtpd counts only STARTTLS as TLS for AUTH; this connection is TLS from the start.
    server = SMTPServer(ssl_context=certificate, authenticator=_auth, auth_require_tls=False)
    server.start()
    try:
        _send(f"smtps://portal:{PASSWORD}@127.0.0.1:{server.port}")
        assert [m.rcpt_tos for m in server.messages] == [["stu@x.edu"]]
        with pytest.raises(MailError, match="could not connect"):
            _send(f"smtp://127.0.0.1:{server.port}")  # plain SMTP to a TLS port
    finally:
        server.stop()


def test_an_untrusted_certificate_is_refused(certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    server = SMTPServer(tls_context=certificate, require_starttls=True).start()
    try:
        with pytest.raises(MailError, match="could not connect"):
            _send(f"smtp://127.0.0.1:{server.port}")
        assert server.messages == []
    finally:
        server.stop()


def test_plain_smtp_works_but_never_carries_a_password(caplog):
    server = SMTPServer(authenticator=_auth, auth_require_tls=False).start()
    caplog.set_level(logging.DEBUG)
    try:
        _send(f"smtp://127.0.0.1:{server.port}")
        assert len(server.messages) == 1
        with pytest.raises(MailError, match="does not offer STARTTLS") as refused:
            _send(f"smtp://portal:{PASSWORD}@127.0.0.1:{server.port}")
        assert len(server.messages) == 1
    finally:
        server.stop()
    with pytest.raises(MailError) as down:
        _send(f"smtp://portal:{PASSWORD}@127.0.0.1:{server.port}")  # nobody listens now
    for text in (caplog.text, str(refused.value), str(down.value)):
        assert PASSWORD not in text
    assert PASSWORD not in repr(parse_mail_url(f"smtp://u:{PASSWORD}@h:25"))


def test_an_address_with_a_line_break_is_not_sent():
    with pytest.raises(MailError, match="not valid"):
        _message(to="stu@x.edu\r\nRCPT TO:<victim@evil.test>")
