"""A bare Reflex websocket client: sends any event, as a hostile browser could."""

from __future__ import annotations

import json
import time
import uuid

import simple_websocket


class ReflexSocket:
    def __init__(self, base_url: str, cookie: str | None = None):
        url = (
            base_url.replace("http", "ws", 1)
            + f"/_event/?EIO=4&transport=websocket&token={uuid.uuid4()}"
        )
        headers = {"Cookie": cookie} if cookie else {}
        self.ws = simple_websocket.Client.connect(url, headers=headers)
        self.ws.receive(timeout=10)  # engine.io open
        self.ws.send("40/_event,")
        self.ws.receive(timeout=10)  # namespace connected

    def emit(self, name: str, payload: dict, path: str, query: dict | None = None) -> None:
        """Send one event, as the page at ``path`` would."""
        router_data = {"pathname": path, "asPath": path, "query": query or {}}
        self.ws.send(
            "42/_event,"
            + json.dumps(["event", {"name": name, "payload": payload, "router_data": router_data}])
        )

    def send(self, name: str, payload: dict, path: str, query: dict | None = None) -> list[dict]:
        """Send one event and collect what the server answers within a few seconds."""
        self.emit(name, payload, path, query)
        updates = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            message = self.ws.receive(timeout=0.5)
            if message == "2":
                self.ws.send("3")
            elif message and message.startswith("42/_event,"):
                updates.append(json.loads(message[len("42/_event,") :])[1])
        return updates

    def close(self) -> None:
        self.ws.close()
