"""Notification channels: one interface, built from `alerts.channels` in the settings.

A channel is always named by its configured name; its URL (which may hold secrets) never
leaves the channel object, and every error it raises is masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from service.alerts.message import Message
from service.errors import LinkwatchError
from service.settings import AlertsSettings, ChannelSettings

DEFAULT_SEND_TIMEOUT_S = 60.0


class ChannelError(LinkwatchError):
    """A channel could not be built or could not deliver a message (the text holds no secret)."""

    exit_code = 1


@runtime_checkable
class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None:
        """Deliver `message`; raise ChannelError when it was not accepted."""
        ...


def build_channel(
    name: str, settings: ChannelSettings, *, timeout_s: float = DEFAULT_SEND_TIMEOUT_S
) -> Channel:
    """The channel configured as `name` (ChannelError when its URL is missing or not understood)."""
    if settings.url is None:
        raise ChannelError(
            f"channel {name}: no url configured (set alerts.channels.{name}.url or url_file)"
        )
    url = settings.url.get_secret_value().strip()
    if not url:
        raise ChannelError(f"channel {name}: the url is empty")
    from service.alerts.apprise_channel import AppriseChannel

    return AppriseChannel(name, url, timeout_s=timeout_s)


def build_channels(settings: AlertsSettings) -> dict[str, Channel | ChannelError]:
    """Every configured channel, or the error that keeps it from being built."""
    out: dict[str, Channel | ChannelError] = {}
    for name, cfg in settings.channels.items():
        try:
            out[name] = build_channel(name, cfg)
        except ChannelError as exc:
            out[name] = exc
    return out


def channel_names(channels: Mapping[str, object]) -> str:
    return ", ".join(sorted(channels)) or "(none)"
