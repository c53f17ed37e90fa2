"""How the inbox list scales: a page at 100,000 conversations against the same page at 1,000.

Run on demand against PostgreSQL (it creates and drops its own database):

    python -m tests.bench.bench_inbox [--sizes 1000 100000] [--repeat 30]

For each size it seeds an organization (conversations with a contact and a last message
each, a third of them open, some labelled and in a team), then times, as an agent and as
a supervisor, the first page, a page deep in the list (reached by its cursor) and the view
counts. Every figure is a ratio to a baseline measured in the same run on the same database:
fetching one conversation by its primary key. A list that scales stays near the same
ratio at every size.
"""

from __future__ import annotations

from tests.bench.scratch import ORGANIZATION, arguments, database, save, timed

NAME = "pytake_bench_inbox"

SEED = """
INSERT INTO team (id, organization_id, name, settings, created_at)
    SELECT n, 1, 'Team ' || n, '{}', now() FROM generate_series(1, 4) n;
INSERT INTO team_member (team_id, user_id, created_at)
    SELECT 1 + n % 4, n, now() FROM generate_series(2, 20) n;
INSERT INTO label (id, organization_id, name, color, created_at)
    SELECT n, 1, 'label ' || n, 'blue', now() FROM generate_series(1, 8) n;
INSERT INTO contact (id, organization_id, wa_id, name, attributes, created_at)
    SELECT n, 1, (5500000000000 + n)::text, 'Customer ' || n, '{}', now()
    FROM generate_series(1, %(size)s) n;
INSERT INTO conversation (id, organization_id, channel_id, contact_id, status, assignee_id,
                          team_id, unread_count, last_activity_at, window_expires_at,
                          created_at)
    SELECT n, 1, 1, n,
           CASE WHEN n % 3 = 0 THEN 'open' ELSE 'resolved' END,
           CASE WHEN n % 5 = 0 THEN NULL ELSE 1 + n % 20 END,
           CASE WHEN n % 2 = 0 THEN 1 + n % 4 END,
           n % 4,
           now() - make_interval(secs => n),
           now() - make_interval(secs => n) + interval '24 hours',
           now() - make_interval(secs => n)
    FROM generate_series(1, %(size)s) n;
INSERT INTO message (id, organization_id, conversation_id, channel_id, direction, type,
                     content, external_id, status, reactions, created_at)
    SELECT n, 1, n, 1, 'in', 'text', '{"body": "Olá, preciso de ajuda"}', 'wamid.' || n,
           'received', '{}', now() - make_interval(secs => n)
    FROM generate_series(1, %(size)s) n;
INSERT INTO conversation_label (conversation_id, label_id)
    SELECT n, 1 + n % 8 FROM generate_series(1, %(size)s) n WHERE n % 7 = 0;
ANALYZE;
"""


def _measure(size: int, repeat: int) -> dict[str, float]:
    with database(NAME, ORGANIZATION, SEED.replace("%(size)s", str(size))):
        return _figures(size, repeat)


def _figures(size: int, repeat: int) -> dict[str, float]:
    from pytake import db
    from pytake.auth.sessions import Identity
    from pytake.models import Conversation, Role
    from pytake.services import inbox

    agent = Identity(3, 1, Role.AGENT, "s", "Agent 3", "agent3@bench.test", None)
    supervisor = Identity(1, 1, Role.SUPERVISOR, "s", "Agent 1", "agent1@bench.test", None)

    def run(fn):
        def call():
            with db.session() as s:
                return fn(s)

        return call

    middle = size // 2 - (size // 2) % 3 + 1  # a resolved conversation half-way down
    with db.session() as s:  # the cursor a reader would hold half-way through the list
        after = (s.get(Conversation, middle).last_activity_at.isoformat(), middle)

    figures = {
        "baseline": timed(run(lambda s: s.get(Conversation, size // 2)), repeat),
    }
    for who, identity in (("agent", agent), ("supervisor", supervisor)):
        query = inbox.Query(status="resolved")
        figures[f"{who} first page"] = timed(
            run(lambda s, i=identity, q=query: inbox.page(s, i, q)), repeat
        )
        figures[f"{who} deep page"] = timed(
            run(lambda s, i=identity, q=query, a=after: inbox.page(s, i, q, after=a)), repeat
        )
        figures[f"{who} counts"] = timed(
            run(lambda s, i=identity: inbox.counts(s, i, "open")), repeat
        )
    return figures


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    results = {size: _measure(size, args.repeat) for size in args.sizes}
    names = [name for name in results[args.sizes[0]] if name != "baseline"]
    header = f"{'query (ratio to a key lookup)':<32}" + "".join(f"{s:>12,}" for s in args.sizes)
    print(header)
    for name in names:
        ratios = "".join(f"{results[s][name] / results[s]['baseline']:>12.1f}" for s in args.sizes)
        print(f"{name:<32}{ratios}")
    base = "".join(f"{results[s]['baseline'] * 1e3:>10.2f}ms" for s in args.sizes)
    print(f"{'(baseline, for reference)':<32}{base}")
    save(args.json, {"seconds": results})


if __name__ == "__main__":
    main()
