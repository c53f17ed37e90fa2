"""Channel adapters by kind; the core asks here instead of importing a platform."""

from __future__ import annotations

from pytake.channels.base import ChannelAdapter

_adapters: dict[str, ChannelAdapter] = {}


def adapter(kind: str) -> ChannelAdapter:
    if not _adapters:
        from pytake.channels.whatsapp.adapter import WhatsAppAdapter

        register(WhatsAppAdapter())
    try:
        return _adapters[kind]
    except KeyError:
        raise LookupError(f"no channel adapter for {kind!r}") from None


def register(instance: ChannelAdapter) -> None:
    """Install an adapter (tests install one whose HTTP goes to the simulator)."""
    _adapters[instance.kind] = instance
