"""Search, the dashboard and reports on a large history, each against its own core SQL run
raw in the same run on the same database.

Run on demand against PostgreSQL (it creates and drops its own database):

    python -m tests.bench.bench_insight [--messages 1000000] [--repeat 10] [--rounds 10]

The seed: one organization, 20 agents, ``messages / 10`` conversations of ten messages each
over the last 60 days, Portuguese and English sentences (words folded as PyTake stores
them), a third resolved. Figures are medians; each ratio divides PyTake's call (the service
function, with its visibility rule, filters and Python around it) by the raw SQL of the same
question.

Then 20 agents at once (threads of one process, as a web worker serves them): the inbox
list's first page, a conversation's history and a search for an order number, each call's
p95 against the very statements PyTake sent for it, captured and replayed on raw psycopg
connections (one per agent) in the same run.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from tests.bench import load
from tests.bench.scratch import ORGANIZATION, arguments, connect, database, save, timed

NAME = "pytake_bench_insight"

SEED = """
UPDATE organization SET settings = '{"timezone": "America/Sao_Paulo"}';
INSERT INTO contact (id, organization_id, wa_id, name, attributes, created_at)
    SELECT n, 1, (5500000000000 + n)::text, 'Customer ' || n, '{}', now()
    FROM generate_series(1, %(conversations)s) n;
INSERT INTO conversation (id, organization_id, channel_id, contact_id, status, assignee_id,
                          unread_count, last_activity_at, created_at, resolved_at,
                          last_inbound_at)
    SELECT n, 1, 1, n,
           CASE WHEN n % 3 = 0 THEN 'resolved' ELSE 'open' END,
           CASE WHEN n % 5 = 0 THEN NULL ELSE 1 + n % 20 END,
           0,
           now() - make_interval(mins => (n::bigint * 86400 / %(conversations)s)::int),
           now() - make_interval(mins => (n::bigint * 86400 / %(conversations)s)::int),
           CASE WHEN n % 3 = 0
                THEN now()
                     - make_interval(mins => (n::bigint * 86400 / %(conversations)s)::int - 90)
           END,
           now() - make_interval(mins => (n::bigint * 86400 / %(conversations)s)::int)
    FROM generate_series(1, %(conversations)s) n;
INSERT INTO message (id, organization_id, conversation_id, channel_id, direction, type,
                     content, search_text, sender_user_id, status, reactions, created_at)
    SELECT m, 1, 1 + (m - 1) / 10, 1,
           CASE WHEN m % 2 = 1 THEN 'in' ELSE 'out' END,
           'text',
           json_build_object('body', sentence),
           pytake_fold(sentence),
           CASE WHEN m % 2 = 0 THEN 1 + m % 20 END,
           'sent', '{}',
           now()
               - make_interval(
                   mins => ((1 + (m - 1) / 10)::bigint * 86400 / %(conversations)s)::int)
               + make_interval(mins => (m - 1) % 10 * 3)
    FROM (
        SELECT m, (ARRAY[
            'Olá, meu pedido número ' || m || ' ainda não chegou',
            'Bom dia! Preciso da segunda via do boleto',
            'Hi, my order ' || m || ' arrived damaged',
            'Vocês entregam em Lisboa? Qual o prazo?',
            'Can I change the delivery address?',
            'Obrigada pela ajuda, foi resolvido',
            'Não consigo acessar minha conta',
            'The invoice shows the wrong billing address'
        ])[1 + m % 8] AS sentence
        FROM generate_series(1, %(messages)s) m
    ) sentences;
ANALYZE;
"""

# The same match and ranking as PyTake's search, without its joins and visibility rule.
RAW_SEARCH = """
WITH q AS (
    SELECT websearch_to_tsquery('portuguese'::regconfig, :q)
           || websearch_to_tsquery('english'::regconfig, :q)
           || to_tsquery('simple'::regconfig, :prefixes) AS query
)
SELECT id FROM message, q
WHERE (to_tsvector('portuguese'::regconfig, coalesce(search_text, ''))
       || to_tsvector('english'::regconfig, coalesce(search_text, ''))) @@ q.query
ORDER BY ts_rank(to_tsvector('portuguese'::regconfig, coalesce(search_text, ''))
                 || to_tsvector('english'::regconfig, coalesce(search_text, '')), q.query) DESC,
         id DESC
LIMIT 30
"""
RAW_WAITING = "SELECT count(*) FROM conversation WHERE organization_id = 1 AND status = 'open'"
RAW_PERIOD = """
SELECT count(*) FROM message WHERE organization_id = 1 AND created_at >= :start
"""


def _figures(repeat: int) -> dict[str, tuple[float, float]]:
    import sqlalchemy as sa

    from pytake import db
    from pytake.auth.sessions import Identity
    from pytake.models import Role, utcnow
    from pytake.services import dashboard, reports, search

    supervisor = Identity(1, 1, Role.SUPERVISOR, "s", "Agent 1", "agent1@bench.test", None)
    agent = Identity(3, 1, Role.AGENT, "s", "Agent 3", "agent3@bench.test", None)
    today = dt.date.today()
    month = reports.Period(today - dt.timedelta(days=29), today)

    def call(fn):
        def run():
            with db.session() as s:
                return fn(s)

        return run

    def raw(sql: str, **params):
        return call(lambda s: s.execute(sa.text(sql), params).all())

    start = utcnow() - dt.timedelta(days=30)
    searched = {"q": "pedido chegou", "prefixes": "pedido:* & chegou:*"}
    pairs = {
        "search, supervisor": (
            call(lambda s: search.messages(s, supervisor, "pedido chegou")),
            raw(RAW_SEARCH, **searched),
        ),
        "search, agent (visibility)": (
            call(lambda s: search.messages(s, agent, "pedido chegou")),
            raw(RAW_SEARCH, **searched),
        ),
        "dashboard, supervisor": (
            call(lambda s: dashboard.overview(s, dashboard.Board.of(supervisor), set(), utcnow())),
            raw(RAW_WAITING),
        ),
        "reports summary, 30 days": (
            call(lambda s: reports.summary(s, supervisor, month)),
            raw(RAW_PERIOD, start=start),
        ),
        "reports busiest hours, 30 days": (
            call(lambda s: reports.busiest_hours(s, supervisor, month)),
            raw(RAW_PERIOD, start=start),
        ),
    }
    return {
        name: (timed(ours, repeat), timed(base, repeat)) for name, (ours, base) in pairs.items()
    }


AGENTS = 20
TARGETS_MS = {"inbox list": 50, "conversation history": 30, "search": 200}


def _captured(call: Callable[[], object]) -> list[tuple[str, dict]]:
    """The SQL a call sends, with its parameters, to run the same statements raw."""
    import sqlalchemy as sa

    from pytake import db

    sent: list[tuple[str, dict]] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:
        sent.append((statement, parameters or {}))

    sa.event.listen(db.get_engine(), "before_cursor_execute", seen)
    try:
        call()
    finally:
        sa.event.remove(db.get_engine(), "before_cursor_execute", seen)
    return sent


def _raw(statements: list[tuple[str, dict]]) -> Callable[[], object]:
    """The statements on a psycopg connection of their own, in one transaction."""
    conn = connect(NAME)
    conn.autocommit = False

    def run() -> None:
        with conn.transaction():
            for sql, params in statements:
                conn.execute(sql, params).fetchall()

    return run


def _p95_at_once(calls: list[Callable[[], object]], rounds: int) -> float:
    """p95 seconds of every call, each in a thread of its own, all running at once."""
    latencies: list[float] = []
    start = threading.Barrier(len(calls))

    def agent(call: Callable[[], object]) -> None:
        call()  # warm: plans, caches, connections
        start.wait()
        for _ in range(rounds):
            began = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=agent, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load.percentile(latencies, 95)


def _concurrent(conversations: int, rounds: int) -> dict[str, tuple[float, float]]:
    """What 20 agents do at once (member 1 a supervisor), each against the very SQL PyTake
    sent for it, replayed raw on connections of their own."""
    from pytake import db
    from pytake.auth.sessions import Identity
    from pytake.models import Role
    from pytake.services import inbox, search, thread

    def call(fn):
        def run():
            with db.session() as s:
                return fn(s)

        return run

    people = [
        Identity(n, 1, Role.SUPERVISOR if n == 1 else Role.AGENT, "s", f"Agent {n}", "", None)
        for n in range(1, AGENTS + 1)
    ]

    def own(n: int) -> int:
        """A conversation member n sees: assigned to them (the seed gives id i to member
        1 + i % 20 unless i % 5 is 0), else an unassigned one of their own."""
        middle = conversations // 2 - conversations // 2 % 20
        mine = middle + n - 1
        return mine if mine % 5 else middle - 5 * n

    questions = {
        "inbox list": lambda who: call(lambda s: inbox.page(s, who, inbox.Query())),
        "conversation history": lambda who: call(
            lambda s: thread.page(s, who, own(who.user_id), None)
        ),
        # An order number, as agents look one up: only that message matches.
        "search": lambda who: call(
            lambda s: search.messages(s, who, f"pedido {8000 * who.user_id}")
        ),
    }
    figures = {}
    for name, question in questions.items():
        ours = [question(who) for who in people]
        raw = [_raw(_captured(call)) for call in ours]
        figures[name] = (_p95_at_once(ours, rounds), _p95_at_once(raw, rounds))
    return figures


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10, help="calls per agent, at once")
    args = parser.parse_args()
    sizes = {"messages": args.messages, "conversations": args.messages // 10}
    seed = SEED
    for key, value in sizes.items():
        seed = seed.replace(f"%({key})s", str(value))
    with database(NAME, ORGANIZATION, seed):
        figures = _figures(args.repeat)
        together = _concurrent(sizes["conversations"], args.rounds)
    print(f"{args.messages:,} messages, {args.messages // 10:,} conversations")
    print(f"{'question (median)':<34}{'PyTake':>10}{'raw SQL':>10}{'ratio':>8}")
    for name, (ours, base) in figures.items():
        print(f"{name:<34}{ours * 1e3:>8.1f}ms{base * 1e3:>8.1f}ms{ours / base:>8.1f}")
    print(f"{f'{AGENTS} agents at once (p95)':<34}{'PyTake':>10}{'raw SQL':>10}{'ratio':>8}")
    for name, (ours, base) in together.items():
        target = f"  (target {TARGETS_MS[name]} ms, 1.5x)"
        print(f"{name:<34}{ours * 1e3:>8.1f}ms{base * 1e3:>8.1f}ms{ours / base:>8.1f}{target}")
    rows = {name: {"pytake_s": ours, "raw_s": base} for name, (ours, base) in figures.items()}
    at_once = {
        name: {"pytake_p95_s": ours, "raw_p95_s": base, "target_ms": TARGETS_MS[name]}
        for name, (ours, base) in together.items()
    }
    save(args.json, {"messages": args.messages, "questions": rows, "agents_at_once": at_once})


if __name__ == "__main__":
    main()
