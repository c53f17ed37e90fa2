"""Search over real rows: accents and case, stemming on PostgreSQL, prefixes, filters,
visibility rules, contacts, snippets, and the migration's backfill."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from pytake import db
from pytake.models import Contact, Conversation, ConversationLabel, Label, Message, Role, utcnow
from pytake.services import search
from tests.integration.conftest import who

TEXTS = {  # message → (organization, customer index in the world fixture)
    "Não recebi o pedido número 4411": ("acme", 0),
    "O pedido chegou, obrigado!": ("acme", 1),
    "My ORDER arrived damaged": ("acme", 2),
    "Pedido cancelado na outra empresa": ("other", 0),
}


@pytest.fixture
def messages(world) -> dict[str, int]:
    """The world's conversations get these messages; their ids by text."""
    ids = {}
    with db.session(write=True) as s:
        for text, (org, n) in TEXTS.items():
            conversation = s.execute(
                sa.select(Conversation)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(Contact.name == f"{org} customer {n}")
            ).scalar_one()
            content = {"body": text}
            message = Message(
                organization_id=conversation.organization_id,
                conversation_id=conversation.id,
                channel_id=conversation.channel_id,
                direction="in",
                type="text",
                content=content,
                search_text=search.indexed(content),
                external_id=f"wamid.search.{len(ids)}",
            )
            s.add(message)
            s.flush()
            ids[text] = message.id
    return ids


def _found(identity, query: str, filters: search.Filters = search.ANYTHING) -> list[str]:
    with db.session() as s:
        rows = search.messages(s, identity, query, filters)
    return [row["before"] + row["match"] + row["after"] for row in rows]


def test_accents_and_capitals_do_not_matter(world, messages):
    owner = who(world, "ana", Role.OWNER)
    assert _found(owner, "nao recebi") == ["Não recebi o pedido número 4411"]
    assert _found(owner, "NÚMERO") == ["Não recebi o pedido número 4411"]
    assert _found(owner, "order") == ["My ORDER arrived damaged"]


def test_every_word_must_match_and_the_last_may_be_a_prefix(world, messages):
    owner = who(world, "ana", Role.OWNER)
    assert sorted(_found(owner, "pedido")) == [
        "Não recebi o pedido número 4411",
        "O pedido chegou, obrigado!",
    ]
    assert _found(owner, "pedido cheg") == ["O pedido chegou, obrigado!"]
    assert _found(owner, "4411") == ["Não recebi o pedido número 4411"]
    assert _found(owner, "pedido inexistente") == []
    assert _found(owner, "  ?? ") == []  # no words: nothing is searched


def test_postgresql_stems_portuguese_and_english(world, messages):
    if db.get_engine().dialect.name != "postgresql":
        pytest.skip("stemming is PostgreSQL's full-text search; elsewhere words match as typed")
    owner = who(world, "ana", Role.OWNER)
    assert sorted(_found(owner, "pedidos")) == [
        "Não recebi o pedido número 4411",
        "O pedido chegou, obrigado!",
    ]
    assert _found(owner, "orders") == ["My ORDER arrived damaged"]


def test_another_organization_and_the_visibility_rule_are_respected(world, messages):
    owner = who(world, "ana", Role.OWNER)
    assert "Pedido cancelado na outra empresa" not in _found(owner, "pedido")
    bia_own = who(world, "bia", Role.AGENT, "own")  # Ana's conversation is not hers to see
    assert _found(bia_own, "recebi") == []
    assert _found(bia_own, "order") == ["My ORDER arrived damaged"]  # unassigned: visible
    number = f"55119{world['acme']}0000"  # Ana's customer
    with db.session() as s:
        assert search.contacts(s, bia_own, number) == []
        (customer,) = search.contacts(s, owner, number)
    assert customer["name"] == "acme customer 0" and customer["conversation_id"]


def test_filters_by_number_agent_label_and_dates(world, messages):
    owner = who(world, "ana", Role.OWNER)
    with db.session(write=True) as s:
        conversation_id = s.get(Message, messages["O pedido chegou, obrigado!"]).conversation_id
        label = Label(organization_id=world["acme"], name="Entrega", color="blue")
        s.add(label)
        s.flush()
        s.add(ConversationLabel(conversation_id=conversation_id, label_id=label.id))
        label_id = label.id
    assert _found(owner, "pedido", search.Filters(label_id=label_id)) == [
        "O pedido chegou, obrigado!"
    ]
    assert _found(owner, "pedido", search.Filters(assignee_id=world["ana"])) == [
        "Não recebi o pedido número 4411"
    ]
    today = utcnow().date()
    assert _found(owner, "order", search.Filters(since=today, until=today)) != []
    tomorrow = today + dt.timedelta(days=1)
    assert _found(owner, "order", search.Filters(since=tomorrow)) == []


def test_the_snippet_shows_the_words_around_the_match():
    text = "Bom dia! " + "x" * 100 + " Meu pedido não chegou " + "y" * 100
    before, match, after = search.snippet(text, ["nao"])
    assert match == "não" and before.startswith("…") and before.endswith("Meu pedido ")
    assert after.startswith(" chegou") and after.endswith("…")


def test_what_a_message_holds_is_indexed_whatever_its_kind():
    assert search.indexed({"body": "Olá, JOÃO"}) == "ola, joao"
    assert search.indexed({"caption": "Nota fiscal", "filename": "NF-123.pdf"}) == (
        "nota fiscal nf-123.pdf"
    )
    assert search.indexed({"emoji": "👍", "target": "wamid.x"}) is None
    card = {"cards": [{"name": {"formatted_name": "Bia Souza"}}]}
    assert "bia souza" in search.indexed(card)
