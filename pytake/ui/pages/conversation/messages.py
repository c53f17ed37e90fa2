"""Pure helpers of the conversation state: the structured messages the dialogs compose,
and how the thread's list is cut into pages and days.
"""

from __future__ import annotations


def _location(form: dict) -> tuple[str, dict]:
    content = {"latitude": form.get("latitude", ""), "longitude": form.get("longitude", "")}
    content.update({k: form[k] for k in ("name", "address") if form.get(k)})
    return "location", content


def _contact(form: dict) -> tuple[str, dict]:
    card: dict = {"name": {"formatted_name": form.get("name", "")}}
    if form.get("phone"):
        card["phones"] = [{"phone": form["phone"], "type": "CELL"}]
    if form.get("email"):
        card["emails"] = [{"email": form["email"], "type": "WORK"}]
    return "contacts", {"cards": [card]}


def _buttons(form: dict) -> tuple[str, dict]:
    titles = [form.get(f"button{n}", "") for n in (1, 2, 3)]
    return "interactive", {
        "kind": "button",
        "body": form.get("body", ""),
        "footer": form.get("footer", ""),
        "buttons": [{"id": title, "title": title} for title in titles if title],
    }


def _list(form: dict) -> tuple[str, dict]:
    rows = []
    for n, line in enumerate(form.get("rows", "").splitlines(), start=1):
        title, _, description = (part.strip() for part in line.partition(" - "))
        if title:
            rows.append({"id": f"option-{n}", "title": title, "description": description})
    return "interactive", {
        "kind": "list",
        "body": form.get("body", ""),
        "button": form.get("button", ""),
        "sections": [{"rows": rows}],
    }


DIALOGS = {"location": _location, "contact": _contact, "buttons": _buttons, "list": _list}


def exact_shortcut(text: str, replies: list[dict]) -> int | None:
    """The quick reply whose shortcut the draft names exactly ("/hello")."""
    wanted = text[1:].lower() if text.startswith("/") else None
    return next((r["id"] for r in replies if r["shortcut"] == wanted), None)


def first_message(items: list[dict]) -> int | None:
    """The id of the first message (not note) shown: where the next older page ends."""
    return next((m["id"] for m in items if m["id"] > 0), None)


def with_days(messages: list[dict]) -> list[dict]:
    """Mark the first message of each day, where the page draws a date separator."""
    previous = None
    marked = []
    for message in messages:
        marked.append({**message, "new_day": message["day"] != previous})
        previous = message["day"]
    return marked


# Components ----------------------------------------------------------------------------------
