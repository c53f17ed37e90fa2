"""A bare Reflex websocket client: sends any event, as a hostile browser could."""

from __future__ import annotations

import json
import time
import uuid

import simple_websocket


class ReflexSocket:
    def __init__(
        self,
        base_url: str,
        cookie: str | None = None,
        origin: str | None = None,
        token: str | None = None,
    ):
        """``token``: a tab's own (``sessionStorage.token``), to replay what it could."""
        self.token = token or str(uuid.uuid4())
        url = (
            base_url.replace("http", "ws", 1)
            + f"/_event/?EIO=4&transport=websocket&token={self.token}"
        )
        headers = {"Cookie": cookie} if cookie else {}
        if origin:
            headers["Origin"] = origin  # as a browser's page sends it
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
                kind, body = json.loads(message[len("42/_event,") :])[:2]
                if kind == "new_token":  # the token is another connection's: not replayed
                    self.token = body
                else:
                    updates.append(body)
        return updates

    def close(self) -> None:
        self.ws.close()
