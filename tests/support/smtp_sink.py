"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives.

    with SmtpSink(user="alerts", password="s3cret") as sink:
        url = f"mailto://alerts:s3cret@{sink.host}:{sink.port}?from=lw@example.org&to=me@example.org"
        ...
        sink.wait_for(1)
        sink.messages[0]["Subject"]

AUTH PLAIN/LOGIN is offered without TLS when `user` is set (and then required); a wrong
password is refused like a real server does.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.serving import free_port, wait_for_count


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    raw: bytes

    def __getitem__(self, header: str) -> Any:
        return self.message[header]

    def part(self, subtype: str) -> str:
        """The decoded text of the text/<subtype> part ('' when absent)."""
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                content = part.get_content()
                return str(content)
        return ""


@dataclass
class _Handler:
    sink: SmtpSink
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content or envelope.content)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        with self.sink.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(
        self, host: str = "127.0.0.1", user: str | None = None, password: str | None = None
    ) -> None:
        self.host = host
        self.port = free_port(host)
        self.user = user
        self.password = password
        self.lock = threading.Lock()
        self.auth_failures = 0
        self._handler = _Handler(self)
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(
            self._handler, hostname=host, port=self.port, server_hostname="sink.test", **kwargs
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            ok = (
                auth_data.login.decode() == self.user
                and auth_data.password.decode() == self.password
            )
            if ok:
                return AuthResult(success=True)
        self.auth_failures += 1
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Received]:
        with self.lock:
            return list(self._handler.received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        return wait_for_count(lambda: self.messages, count, timeout, "messages")

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
