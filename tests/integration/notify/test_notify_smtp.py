"""SmtpSender against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from syft_monitors.errors import ConfigError, CredentialsError, SendError
from syft_monitors.notify.email import KEY_HEADER, OutgoingEmail
from syft_monitors.notify.senders.smtp import SmtpSender
from tests.support import free_port

pytestmark = pytest.mark.filterwarnings(
    # aiosmtpd warns when AUTH is offered without TLS; the plain-text tests do that on purpose.
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)

USER = "monitor"
PASSWORD = "s3cret-pa55word"
FROM = "owner@datasite.org"


class Recorder:
    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse = refuse

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse and address == self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False on failure, or the client waits forever for an answer.
    return AuthResult(success=ok, handled=False)


def serve(handler: Recorder, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(refuse="nobody@uni.edu")


@pytest.fixture
def plain_server(recorder: Recorder) -> Iterator[Controller]:
    controller = serve(recorder)
    yield controller
    controller.stop()


@pytest.fixture
def auth_server(recorder: Recorder) -> Iterator[Controller]:
    controller = serve(recorder, authenticator=authenticator, auth_require_tls=False)
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cryptography comes with google-auth)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def outgoing(to: str = "scientist@uni.edu", key: str = "new_job:abc:ds") -> OutgoingEmail:
    return OutgoingEmail.build(
        to=to,
        subject="Job Submitted: analysis",
        text="Your job was submitted.\n",
        html="<p>Your job was submitted.</p>",
        notification_key=key,
    )


def test_send_without_auth(plain_server: Controller, recorder: Recorder) -> None:
    sender = SmtpSender("127.0.0.1", plain_server.port, starttls=False, from_address=FROM)
    message = outgoing()
    result = sender.send(message)
    assert result.message_id == message.message_id
    assert sender.find_sent(message) is None  # SMTP cannot look back: at-least-once
    assert sender.exactly_once is False
    ((mail_from, rcpt, parsed),) = recorder.messages
    assert (mail_from, rcpt) == (FROM, ["scientist@uni.edu"])
    assert parsed["Message-ID"] == message.message_id
    assert parsed["From"] == FROM
    assert parsed[KEY_HEADER] == "new_job:abc:ds"
    assert parsed.get_content_type() == "multipart/alternative"


def test_text_format(plain_server: Controller, recorder: Recorder) -> None:
    sender = SmtpSender(
        "127.0.0.1", plain_server.port, starttls=False, from_address=FROM, email_format="text"
    )
    sender.send(outgoing())
    assert recorder.messages[0][2].get_content_type() == "text/plain"


def test_send_with_auth(auth_server: Controller, recorder: Recorder) -> None:
    sender = SmtpSender(
        "127.0.0.1",
        auth_server.port,
        username=USER,
        password=PASSWORD,
        starttls=False,
        from_address=FROM,
    )
    assert sender.send_notification("scientist@uni.edu", "hello", "body") is True
    assert len(recorder.messages) == 1
    assert recorder.messages[0][2]["Subject"] == "hello"


def test_wrong_password_is_a_credentials_error(auth_server: Controller) -> None:
    sender = SmtpSender(
        "127.0.0.1",
        auth_server.port,
        username=USER,
        password="wrong-password-xyz",
        starttls=False,
        from_address=FROM,
    )
    with pytest.raises(CredentialsError) as caught:
        sender.send(outgoing())
    assert "wrong-password-xyz" not in str(caught.value)
    assert "535" in str(caught.value)
    assert "wrong-password-xyz" not in repr(sender)
    assert sender.send_notification("scientist@uni.edu", "hello", "body") is False


def test_starttls_required_but_not_offered(plain_server: Controller) -> None:
    sender = SmtpSender("127.0.0.1", plain_server.port, from_address=FROM)
    with pytest.raises(SendError, match="STARTTLS"):
        sender.send(outgoing())


def test_starttls_with_auth(certificate: tuple[Path, Path], recorder: Recorder) -> None:
    controller = serve(
        recorder,
        authenticator=authenticator,
        tls_context=server_tls(certificate),
        require_starttls=True,
    )
    try:
        sender = SmtpSender(
            "127.0.0.1",
            controller.port,
            username=USER,
            password=PASSWORD,
            from_address=FROM,
            ssl_context=client_tls(certificate),
        )
        sender.send(outgoing())
    finally:
        controller.stop()
    assert len(recorder.messages) == 1


def test_untrusted_certificate_is_refused(
    certificate: tuple[Path, Path], recorder: Recorder
) -> None:
    controller = serve(recorder, tls_context=server_tls(certificate), require_starttls=True)
    try:
        sender = SmtpSender("127.0.0.1", controller.port, from_address=FROM)
        with pytest.raises(SendError, match="TLS"):
            sender.send(outgoing())
    finally:
        controller.stop()
    assert recorder.messages == []


def test_refused_recipient(plain_server: Controller) -> None:
    sender = SmtpSender("127.0.0.1", plain_server.port, starttls=False, from_address=FROM)
    with pytest.raises(SendError, match="refused the recipient"):
        sender.send(outgoing(to="nobody@uni.edu"))


def test_unreachable_server() -> None:
    sender = SmtpSender("127.0.0.1", free_port(), starttls=False, from_address=FROM, timeout=5)
    with pytest.raises(SendError, match="cannot reach"):
        sender.send(outgoing())


def test_password_is_never_sent_in_clear_to_a_remote_host() -> None:
    with pytest.raises(ConfigError, match="unencrypted"):
        SmtpSender(
            "mail.example.org",
            25,
            username=USER,
            password=PASSWORD,
            starttls=False,
            from_address=FROM,
        )
    SmtpSender(
        "relay.internal",
        25,
        username=USER,
        password=PASSWORD,
        starttls=False,
        from_address=FROM,
        allow_plaintext_auth=True,
    )


def test_username_without_password_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="together"):
        SmtpSender("127.0.0.1", username=USER, from_address=FROM)


def test_implicit_tls(certificate: tuple[Path, Path], recorder: Recorder) -> None:
    controller = serve(recorder, ssl_context=server_tls(certificate))
    try:
        sender = SmtpSender(
            "127.0.0.1",
            controller.port,
            ssl=True,
            from_address=FROM,
            ssl_context=client_tls(certificate),
        )
        assert sender.starttls is False  # already encrypted
        sender.send(outgoing())
    finally:
        controller.stop()
    assert len(recorder.messages) == 1
