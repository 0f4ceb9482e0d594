"""The report as a multipart email (text + HTML with inline PNG charts), sent over SMTP."""
from __future__ import annotations

import email.policy
import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..errors import OslaError
from . import render
from .build import subject

# SMTP line endings; headers folded only past RFC 5322's 998 (Python folds a long Subject oddly)
_POLICY = email.policy.SMTP.clone(max_line_length=998)


class MailError(OslaError):
    """Sending failed; the message is one line without secrets."""


def message(report: dict, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = subject(report)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=_domain(sender))
    msg.set_content(render.text(report))
    pngs = render.charts(report)
    cids = {service: make_msgid(domain=_domain(sender)) for service in pngs}
    msg.add_alternative(render.html(report, {s: "cid:" + c[1:-1] for s, c in cids.items()}), subtype="html")
    html_part: EmailMessage = msg.get_payload()[1]  # type: ignore[index,assignment]
    for service, png in pngs.items():
        html_part.add_related(png, "image", "png", cid=cids[service], filename=f"{_safe(service)}-errors.png")
    return msg


def _domain(sender: str) -> str:
    return sender.rpartition("@")[2] or "osla.invalid"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def default_sender() -> str:
    return str(Address("osla", "osla", socket.getfqdn() or "localhost"))


def send(msg: EmailMessage, server: str, security: str = "none", user: str | None = None,
         password: str | None = None, timeout: float = 60, ca_file: str | None = None) -> None:
    """``security``: none, starttls or ssl. ``server`` is HOST or HOST:PORT."""
    host, _, port = server.rpartition(":") if ":" in server else (server, "", "")
    defaults = {"none": 25, "starttls": 587, "ssl": 465}
    try:
        port_number = int(port) if port else defaults[security]
    except ValueError:
        raise MailError(f"--smtp takes HOST or HOST:PORT, not {server!r}") from None
    context = ssl.create_default_context(cafile=ca_file) if security != "none" else None
    try:
        client: smtplib.SMTP
        if security == "ssl":
            client = smtplib.SMTP_SSL(host, port_number, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port_number, timeout=timeout)
        with client:
            if security == "starttls":
                client.starttls(context=context)
            if user:
                if password is None:
                    raise MailError("--smtp-user needs the password in OSLA_SMTP_PASSWORD")
                client.login(user, password)
            refused = client.send_message(msg)
        if refused:
            raise MailError("the SMTP server refused " + ", ".join(sorted(refused)))
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"SMTP login as {user!r} refused by {host}:{port_number} ({exc.smtp_code})") from None
    except smtplib.SMTPNotSupportedError:
        raise MailError(f"{host}:{port_number} does not offer {'STARTTLS' if security == 'starttls' else 'AUTH'}") \
            from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError("the SMTP server refused " + ", ".join(sorted(exc.recipients))) from None
    except smtplib.SMTPException as exc:
        raise MailError(f"SMTP error from {host}:{port_number}: {_first_line(exc)}") from None
    except ssl.SSLError as exc:
        raise MailError(f"TLS with {host}:{port_number} failed: {exc.reason or exc}") from None
    except OSError as exc:
        raise MailError(f"cannot reach SMTP server {host}:{port_number}: {exc.strerror or exc}") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
