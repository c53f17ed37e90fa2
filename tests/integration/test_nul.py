"""U+0000 from any input, not only a customer's: PostgreSQL's text and jsonb refuse it, so a
forged event or an API call holding one failed its whole transaction there. The engine
replaces each NUL with U+FFFD on both databases alike (``pytake.nul``)."""

from __future__ import annotations

import json

from pytake import db
from pytake.models import Contact, Conversation, Message, Note, WebhookEvent
from pytake.sandbox import payloads as p
from pytake.services import actions, contacts, outbound

from .conftest import ANA, rows


async def _conversation(whatsapp) -> int:
    await whatsapp.send(p.text("oi", sender=ANA))
    await whatsapp.drain()
    return rows(Conversation)[0].id


async def test_what_an_agent_writes_with_a_nul_is_kept_visibly(whatsapp, owner_of):
    conversation = await _conversation(whatsapp)
    with db.session(write=True) as s:
        accepted = outbound.send(
            s, owner_of, conversation, "text", {"body": "a\x00b"}, client_key="nul-test-0001"
        )
        actions.add_note(s, owner_of, conversation, "nota\x00 interna")
        contacts.rename(s, owner_of, conversation, "Ana\x00 Souza")
        contacts.set_attribute(s, owner_of, conversation, "plan", "ouro\x00")
    await whatsapp.drain()
    stored = rows(Message, Message.id == accepted.message_id)[0]
    assert stored.content["body"] == "a\ufffdb" and stored.status == "sent"
    assert whatsapp.sim.sent[-1]["text"]["body"] == "a\ufffdb"  # what the agent saw is sent
    assert rows(Note)[0].body == "nota\ufffd interna"
    contact = rows(Contact)[0]
    assert contact.name == "Ana\ufffd Souza" and contact.attributes["plan"] == "ouro\ufffd"


def test_json_keeps_escaped_backslashes_and_bytes_stay_as_they_came(whatsapp):
    """Only a real NUL is replaced: text that reads backslash-u-0000 is not one."""
    document = {"k\x00": ["x\x00", {"n": 1}], "literal": "\\u0000", "nested": {"t": ("a\x00",)}}
    raw = b'{"entry": []}\x00tail'
    with db.session(write=True) as s:
        contact = Contact(organization_id=whatsapp.organization_id, wa_id="1", attributes=document)
        s.add(contact)
        s.add(WebhookEvent(source="whatsapp", body=raw, body_sha256="0" * 64, state="done"))
    stored = rows(Contact, Contact.wa_id == "1")[0].attributes
    assert stored == {
        "k\ufffd": ["x\ufffd", {"n": 1}],
        "literal": "\\u0000",
        "nested": {"t": ["a\ufffd"]},
    }
    assert "\x00" not in json.dumps(stored)
    assert rows(WebhookEvent)[-1].body == raw
