"""A real SMTP server for tests (aiosmtpd on 127.0.0.1), keeping what it receives.

    with SmtpSink(auth=True, starttls=True) as sink:
        env = Env(smtp_url=SecretStr(sink.url), ...)
        Email(env, ssl_context=sink.client_ssl_context()).send(msg, 5)
        assert sink.messages[0]["Subject"].startswith("[P0]")

`auth=True` requires AUTH LOGIN/PLAIN with `user`/`password` (also without TLS, so the
plain case can be tested); `starttls=True` offers STARTTLS with a self-signed certificate
made at start; `implicit_tls=True` speaks TLS from the first byte (smtps://).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# The plain-AUTH sink is deliberate (it tests the loopback case); keep aiosmtpd quiet about it.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass
class Received:
    """One message as delivered: the envelope, who logged in, and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None = None
    tls: bool = False
    raw: bytes = field(default=b"", repr=False)


def self_signed_cert() -> tuple[bytes, bytes]:
    """(cert PEM, key PEM) for 127.0.0.1 and localhost, valid for a day either side of now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        failure = self.sink._take_failure("rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        failure = self.sink._take_failure("data")
        if failure:
            return failure
        raw = envelope.original_content or envelope.content
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        creds = session.auth_data
        login = creds.login.decode() if isinstance(creds, LoginPassword) else None
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.sink._received(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, login, tls, raw))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, auth: bool = False, user: str = "vigil", password: str = "smtp-test-password",
                 starttls: bool = False, implicit_tls: bool = False, delay: float = 0.0) -> None:
        self.user, self.password, self.delay = user, password, delay
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._failures: list[tuple[str, str]] = []
        self.cert_pem: bytes | None = None
        kwargs: dict[str, Any] = {}
        tls_ctx = self._server_ssl_context() if (starttls or implicit_tls) else None
        if starttls:
            kwargs.update(tls_context=tls_ctx, require_starttls=False)
        if auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=False)
        self.port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     ssl_context=tls_ctx if implicit_tls else None, **kwargs)
        self.controller.start()
        scheme = "smtps" if implicit_tls else "smtp"
        creds = f"{user}:{password}@" if auth else ""
        self.url = f"{scheme}://{creds}127.0.0.1:{self.port}"

    def _server_ssl_context(self) -> ssl.SSLContext:
        self.cert_pem, key_pem = self_signed_cert()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            cert_file.write_bytes(self.cert_pem)
            key_file.write_bytes(key_pem)
            ctx.load_cert_chain(cert_file, key_file)
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this sink's self-signed certificate."""
        if self.cert_pem is None:
            raise RuntimeError("this sink has no TLS")
        return ssl.create_default_context(cadata=self.cert_pem.decode())

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def fail_next(self, n: int = 1, code: int = 451, message: str = "Requested action aborted: local error",
                  stage: str = "data") -> None:
        """The next `n` transactions answer `code message` at RCPT (`stage="rcpt"`) or at DATA."""
        with self._lock:
            self._failures.extend([(stage, f"{code} {message}")] * n)

    def _take_failure(self, stage: str) -> str | None:
        with self._lock:
            if self._failures and self._failures[0][0] == stage:
                return self._failures.pop(0)[1]
        return None

    def _received(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    @property
    def messages(self) -> list[EmailMessage]:
        """The parsed messages (policy=email.policy.default); envelopes are in `.received`."""
        with self._lock:
            return [r.message for r in self.received]

    def close(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
