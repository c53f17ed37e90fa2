"""The Reflex skin: states call services, pages only render."""
