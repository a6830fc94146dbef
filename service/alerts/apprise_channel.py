"""A channel for any Apprise URL (mailto(s)://, json://, slack://, discord://, ntfy://, ...).

Apprise is blocking, so it runs in a worker thread. Its `notify()` answers False instead of
raising, and says why only in its log: the records logged while one send runs are collected
(through a context variable, so concurrent sends of other channels do not mix) and become
the ChannelError, masked. The masking filter on Apprise's logger also keeps its own log
lines free of secrets.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

import apprise

from service.alerts.channels import ChannelError
from service.alerts.message import Message
from service.alerts.secrets import install_log_masking, mask, register_url

log = logging.getLogger("linkwatch.alerts")

_CAPTURE: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "linkwatch_apprise_capture", default=None
)
_NOTIFY_TYPES = {
    "info": apprise.NotifyType.INFO,
    "success": apprise.NotifyType.SUCCESS,
    "warning": apprise.NotifyType.WARNING,
    "failure": apprise.NotifyType.FAILURE,
}
MAX_REASON_CHARS = 500


class _CaptureHandler(logging.Handler):
    """Collects Apprise's warnings and errors for the send running in the current context."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = _CAPTURE.get()
        if sink is not None and record.levelno >= logging.WARNING:
            try:
                sink.append(mask(record.getMessage()))
            except Exception:
                sink.append(mask(str(record.msg)))


def _install() -> None:
    install_log_masking()
    apprise_logger = logging.getLogger("apprise")
    if not any(isinstance(h, _CaptureHandler) for h in apprise_logger.handlers):
        apprise_logger.addHandler(_CaptureHandler())
        if apprise_logger.level == logging.NOTSET:
            apprise_logger.setLevel(logging.WARNING)  # failures must be logged to be captured


def _preferred_format(service: Any) -> str:
    fmt = getattr(service, "notify_format", apprise.NotifyFormat.TEXT)
    if isinstance(fmt, (tuple, list)):
        fmt = fmt[0] if fmt else apprise.NotifyFormat.TEXT
    return str(getattr(fmt, "value", fmt))


class AppriseChannel:
    """One configured channel backed by one Apprise URL."""

    def __init__(self, name: str, url: str, *, timeout_s: float = 60.0) -> None:
        _install()
        register_url(url)
        self.name = name
        self.timeout_s = timeout_s
        self._apprise = apprise.Apprise()
        sink: list[str] = []
        token = _CAPTURE.set(sink)
        try:
            added = self._apprise.add(url)
        except Exception as exc:  # a plugin that raises on a malformed URL
            raise ChannelError(
                f"channel {name}: not a usable Apprise URL ({mask(str(exc))})"
            ) from None
        finally:
            _CAPTURE.reset(token)
        if not added or len(self._apprise) == 0:
            why = f" ({'; '.join(sink)[:MAX_REASON_CHARS]})" if sink else ""
            raise ChannelError(f"channel {name}: not a usable Apprise URL{why}")
        self.html = _preferred_format(self._apprise[0]) == apprise.NotifyFormat.HTML.value

    def __repr__(self) -> str:  # never the URL
        return f"AppriseChannel({self.name!r})"

    async def send(self, message: Message) -> None:
        try:
            await asyncio.wait_for(asyncio.to_thread(self._send_blocking, message), self.timeout_s)
        except TimeoutError:
            raise ChannelError(
                f"channel {self.name}: no answer within {self.timeout_s:g} s"
            ) from None

    def _send_blocking(self, message: Message) -> None:
        sink: list[str] = []
        token = _CAPTURE.set(sink)
        try:
            body, body_format = (
                (message.html, apprise.NotifyFormat.HTML)
                if self.html
                else (message.text, apprise.NotifyFormat.TEXT)
            )
            ok = bool(
                self._apprise.notify(
                    body=body,
                    title=message.title,
                    body_format=body_format,
                    notify_type=_NOTIFY_TYPES[message.severity],
                )
            )
        except Exception as exc:
            raise ChannelError(
                f"channel {self.name}: {type(exc).__name__}: {mask(str(exc))}"
            ) from None
        finally:
            _CAPTURE.reset(token)
        if not ok:
            reason = (
                "; ".join(dict.fromkeys(sink))
                or "the notification service did not accept the message"
            )
            raise ChannelError(f"channel {self.name}: {mask(reason)[:MAX_REASON_CHARS]}")
