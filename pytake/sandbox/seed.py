"""Demo data for a sandbox number: agents, teams and customers' conversations in Portuguese
and English, put through the real pipeline (signed webhooks accepted and processed, replies
queued in the outbox), so the inbox is not empty on a first visit.

Replies go out when the server runs: its outbox sends them to the sandbox number's simulator,
whose statuses come back as webhooks, as for any message.
"""

from __future__ import annotations

import dataclasses
import secrets
import time

from sqlmodel import select

from pytake import db
from pytake.auth.errors import AccessError
from pytake.auth.sessions import Identity
from pytake.jobs import webhooks as webhook_jobs
from pytake.models import Contact, Conversation, Membership, Role, User
from pytake.sandbox import payloads as p
from pytake.services import accounts, actions, outbound, teams, webhooks
from pytake.services import sandbox as sandbox_numbers
from pytake.settings import get_settings

AGENTS = (
    ("carla.mendes", "Carla Mendes", "Vendas"),
    ("diego.rocha", "Diego Rocha", "Suporte"),
    ("emma.clark", "Emma Clark", "Suporte"),
)
# customer wa_id, name, (minutes ago, who speaks, what), the agent who answers (None: waiting)
CONVERSATIONS = (
    (
        "5511987654321",
        "Ana Souza",
        [
            (95, "customer", "Oi! Meu pedido #4411 ainda não chegou 😟"),
            (93, "agent", "Olá Ana! Vou verificar com a transportadora agora mesmo."),
            (60, "customer", "Obrigada! Fico no aguardo."),
        ],
        "carla.mendes",
    ),
    (
        "14155550142",
        "John Miller",
        [(42, "customer", "Hi! Do you ship to Lisbon? How long does it take?")],
        None,
    ),
    (
        "5521998877665",
        "Marcos Lima",
        [
            (180, "customer", "Vocês abrem no sábado?"),
            (178, "agent", "Abrimos sim, das 9h às 13h. Posso ajudar em mais alguma coisa?"),
            (170, "customer", "Não, era só isso. Valeu!"),
        ],
        "diego.rocha",
    ),
    (
        "447700900123",
        "Priya Patel",
        [
            (30, "customer", "My invoice shows the wrong billing address."),
            (28, "agent", "Sorry about that, Priya! Could you send me the invoice number?"),
            (12, "customer", "Sure, it's INV-2231."),
        ],
        "emma.clark",
    ),
    (
        "5531991234567",
        "Beatriz Costa",
        [(5, "customer", "Boa tarde! Qual o prazo de troca de um produto com defeito?")],
        None,
    ),
)


@dataclasses.dataclass(frozen=True)
class Seeded:
    number: str
    agents: list[str]
    password: str | None  # None: the agents existed already
    conversations: int


def seed(organization_id: int, password: str | None = None) -> Seeded:
    """A sandbox number with agents, two teams and five conversations; run once per
    organization (a second run adds another number and conversations, reusing the agents)."""
    password = password or secrets.token_urlsafe(12)
    settings = get_settings()
    api_url = f"http://127.0.0.1:{settings.port}/sandbox/graph"  # the server corrects it
    with db.session(write=True) as s:
        channel = sandbox_numbers.add_number(s, organization_id, api_url)
        number = sandbox_numbers.numbers(s, organization_id)[-1]
        domain = _domain(s, organization_id)
        created, agents = False, {}
        for handle, name, team_name in AGENTS:
            user, new = _agent(s, organization_id, f"{handle}@{domain}", name, password)
            created = created or new
            agents[handle] = Identity(
                user.id, organization_id, Role.AGENT, "seed", name, user.email, None
            )
            team = _team(s, organization_id, team_name)
            teams.set_member(s, organization_id, team, user, member=True)
    for wa_id, customer, lines, handle in CONVERSATIONS:
        agent = agents.get(handle) if handle else None
        _conversation(channel.id, number, wa_id, customer, lines, agent)
    return Seeded(
        channel.display_number or "",
        [identity.email for identity in agents.values()],
        password if created else None,
        len(CONVERSATIONS),
    )


def _domain(s, organization_id: int) -> str:
    owner = s.exec(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == organization_id)
        .order_by(User.id)
    ).first()
    return owner.split("@", 1)[1] if owner else "example.com"


def _agent(s, organization_id: int, email: str, name: str, password: str) -> tuple[User, bool]:
    existing = s.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        return existing, False
    user = accounts.add_user(
        s,
        organization_id=organization_id,
        email=email,
        name=name,
        password=password,
        role=Role.AGENT,
    )
    return user, True


def _team(s, organization_id: int, name: str):
    try:
        return teams.find(s, organization_id, name)
    except AccessError:
        return teams.create(s, organization_id, name)


def _conversation(
    channel_id: int, number, wa_id: str, customer: str, lines: list, agent: Identity | None
) -> None:
    now = int(time.time())
    for minutes_ago, who, text in lines:
        if who == "customer":
            message = p.text(text, sender=wa_id, timestamp=str(now - minutes_ago * 60))
            value = p.messages_value(
                number.phone_number_id,
                number.display_number,
                [message],
                [p.profile(wa_id, customer)],
            )
            body = p.encode(p.envelope(p.entry(number.waba_id, p.change(value))))
            headers = {"x-hub-signature-256": p.sign(body, number.app_secret)}
            verdict = webhooks.accept("whatsapp", body, headers)
            if verdict.event_id is None:
                raise RuntimeError(f"the seed's webhook was refused: {verdict.reason}")
            webhook_jobs.process([verdict.event_id])
            continue
        with db.session(write=True) as s:
            conversation = s.exec(
                select(Conversation)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(Conversation.channel_id == channel_id, Contact.wa_id == wa_id)
            ).one()
            if conversation.assignee_id != agent.user_id:
                actions.assign(s, agent, conversation.id, agent.user_id)
            outbound.send(
                s, agent, conversation.id, "text", {"body": text}, client_key=secrets.token_hex(8)
            )
