"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the report's email tests: plain, or STARTTLS
with a login, keeping every message it accepts."""
from __future__ import annotations

import contextlib
import socket
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Keep:
    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def smtp_server(certs: dict | None = None, login: tuple[str, str] | None = None, implicit_tls: bool = False):
    """Yields (port, handler). With ``certs`` the server requires STARTTLS (or, with
    ``implicit_tls``, speaks TLS from the first byte, SMTPS); with ``login`` AUTH."""
    handler = _Keep()
    options = {}
    if certs:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certs["cert"], certs["key"])
        if implicit_tls:
            options.update(ssl_context=context)
        else:
            options.update(tls_context=context, require_starttls=True)
    if login:
        def check(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)
        options.update(authenticator=check, auth_require_tls=bool(certs))
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()
