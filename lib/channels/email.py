"""E-mail over SMTP (stdlib smtplib), configured by one URL:

- `smtp://user:pass@host:587`: STARTTLS when the server offers it, then AUTH;
- `smtps://user:pass@host` (port 465 by default): TLS from the first byte;
- `smtp://host:25`: no authentication.

Credentials are only sent over TLS, or to a loopback relay (a local sink or sidecar).
"""

from __future__ import annotations

import html
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit

from lib import clock, http
from lib.channels.base import Message, headline, redact
from lib.env import Env
from lib.models import Delivery
from lib.text import plain

if TYPE_CHECKING:
    import smtplib

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
LINKS = (("runbook", "Runbook"), ("dashboard", "Dashboard"), ("source", "Source"))


def subject(msg: Message) -> str:
    """`[P0] api is down (#1042)`; `[P0] ESCALATED: ...`, `[P0] RESOLVED: ...` by kind."""
    # One line: a title with a line break (a Sentry message can have one) is not a valid header.
    return " ".join(f"{headline(msg)} ({msg.ref})".split())


def _lines(msg: Message) -> list[tuple[str, str | None]]:
    """The body as (text, link) pairs, shared by the plain and the HTML part."""
    out: list[tuple[str, str | None]] = []
    if msg.ack_url and msg.kind in ("trigger", "escalate", "test"):
        out.append(("Acknowledge", msg.ack_url))
    if msg.escalation_note:
        out.append((f"Escalated: {msg.escalation_note}", None))
    if msg.acked_by:
        at = f" at {clock.iso(msg.acked_at)}" if msg.acked_at else ""
        out.append((f"Acknowledged by {msg.acked_by}{at}", None))
    if msg.kind == "resolve" and msg.resolved_at:
        by = f" by {msg.resolved_by}" if msg.resolved_by else ""
        out.append((f"Resolved{by} at {clock.iso(msg.resolved_at)}", None))
    if msg.summary:
        out.append((plain(msg.summary), None))
    opened = f", opened {clock.iso(msg.opened_at)}" if msg.opened_at else ""
    out.append((f"Incident {msg.ref}, {msg.severity}, {msg.status}, {msg.occurrences} occurrence(s){opened}", None))
    if msg.deploy_note:
        out.append((msg.deploy_note, msg.links.get("deploy")))
    out += [(label, msg.links[key]) for key, label in LINKS if msg.links.get(key)]
    for label, url in (("Postmortem", msg.postmortem_url), ("Status", msg.status_url),
                       ("Not a real problem? Mark it a false positive", msg.false_positive_url)):
        if url:
            out.append((label, url))
    return out


def plain_text(msg: Message) -> str:
    """The text/plain part, as the recipient reads it."""
    body = [headline(msg), ""]
    body += [f"{text}: {url}" if url else text for text, url in _lines(msg)]
    return "\n".join(body) + "\n\n-- Vigil, " + msg.service + "\n"


def _html(msg: Message) -> str:
    esc = html.escape
    parts = [f"<h2>{esc(headline(msg))}</h2>"]
    for text, url in _lines(msg):
        inner = f'<a href="{esc(url)}">{esc(text)}</a>' if url else esc(text).replace("\n", "<br>")
        parts.append(f"<p>{inner}</p>")
    parts.append(f"<p style=\"color:#888\">Vigil, {esc(msg.service)}</p>")
    return "<!doctype html><html><body>" + "\n".join(parts) + "</body></html>"


class Email:
    def __init__(self, env: Env, ssl_context: ssl.SSLContext | None = None) -> None:
        self.env = env
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"Email(from={self.env.email_from!r})"

    def build(self, msg: Message) -> EmailMessage:
        """The message, pure: text with an HTML alternative, dated by `msg.now`."""
        em = EmailMessage()
        em["From"] = self.env.email_from
        em["To"] = Address(display_name=msg.to_name, addr_spec=msg.address) if msg.to_name else msg.address
        em["Subject"] = subject(msg)
        if msg.now:
            em["Date"] = formatdate(msg.now, usegmt=True)
        em["Auto-Submitted"] = "auto-generated"  # RFC 3834: tells autoresponders not to answer
        em["X-Vigil-Incident"] = msg.incident_id
        em.set_content(plain_text(msg))
        em.add_alternative(_html(msg), subtype="html")
        return em

    def send(self, msg: Message, timeout: float) -> Delivery:
        if self.env.smtp_url is None:
            return Delivery(ok=False, permanent=True, detail="smtp: SMTP_URL is not set")
        parts = urlsplit(self.env.smtp_url.get_secret_value())
        password = unquote(parts.password or "")
        try:
            return self._send(parts, msg, timeout)
        except Exception as exc:
            return _failure(exc, password)

    def _send(self, parts: SplitResult, msg: Message, timeout: float) -> Delivery:
        """1. connect (TLS at once for smtps), 2. STARTTLS when offered, 3. AUTH when a user
        is given, 4. send to msg.address only."""
        import smtplib  # not at import time: only a delivery needs it

        scheme, host = parts.scheme, parts.hostname or "localhost"
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        if scheme not in ("smtp", "smtps"):
            return Delivery(ok=False, permanent=True, detail=f"smtp: unsupported scheme {scheme!r}")
        port = parts.port or (465 if scheme == "smtps" else 587 if user else 25)
        ctx = self.ssl_context or http.ssl_context()
        # local_hostname: skip socket.getfqdn(), a reverse DNS lookup that can take seconds.
        helo = parseaddr(self.env.email_from)[1].rpartition("@")[2] or "localhost"
        server: smtplib.SMTP
        if scheme == "smtps":
            server = smtplib.SMTP_SSL(host, port, local_hostname=helo, timeout=timeout, context=ctx)
        else:
            server = smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout)
        with server:
            server.ehlo()
            secure = scheme == "smtps"
            if not secure and server.has_extn("starttls"):
                server.starttls(context=ctx)
                server.ehlo()
                secure = True
            if user:
                if not secure and host not in LOOPBACK:
                    return Delivery(ok=False, permanent=True,
                                    detail=f"smtp: {host} offers no STARTTLS; not sending credentials in clear")
                server.login(user, password)
            refused = server.send_message(self.build(msg), to_addrs=[msg.address])
        if refused:
            return _refused(refused)
        return Delivery.success(250)


def _refused(refused: dict[str, tuple[int, bytes]]) -> Delivery:
    code, text = next(iter(refused.values()))
    detail = f"SMTP {code}: recipient refused: {text.decode(errors='replace')}"[:300]
    return Delivery(ok=False, retryable=400 <= code < 500, permanent=code >= 500, status=code, detail=detail)


def _failure(exc: Exception, password: str) -> Delivery:
    """5xx and refused recipients are permanent; 4xx, timeouts and connection errors retryable."""
    import smtplib

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused(exc.recipients)
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, exc.smtp_error
        said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        detail = redact(f"SMTP {code}: {said}", password)[:300]
        return Delivery(ok=False, retryable=not 500 <= code < 600, permanent=500 <= code < 600,
                        status=code, detail=detail)
    # smtplib turns a read timeout into SMTPServerDisconnected("... timed out").
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return Delivery(ok=False, retryable=True, detail="smtp transport: timed out")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Delivery(ok=False, permanent=True, detail="smtp: the server lacks a needed extension (AUTH?)")
    if isinstance(exc, OSError | smtplib.SMTPException):
        return Delivery(ok=False, retryable=True, detail=f"smtp transport: {type(exc).__name__}")
    return Delivery(ok=False, permanent=True, detail=f"smtp: {type(exc).__name__}")
