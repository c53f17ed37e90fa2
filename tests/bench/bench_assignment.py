"""What an auto-assignment pass costs, and whether it grows with the history.

Run on demand against PostgreSQL (it creates and drops its own database):

    python -m tests.bench.bench_assignment [--history 1000 100000] [--waiting 200] [--repeat 10]

For each history size it seeds an organization with 50 agents in one round-robin team
(sticky on), that many resolved conversations (each customer served before, so every
stickiness lookup finds someone), and ``--waiting`` new conversations waiting in the team.
It times one pass that assigns them all (rolled back after each run) against a baseline
measured in the same run on the same database: the one UPDATE that gives the same rows to
agents by id. A pass that scales stays near the same ratio at every history size.
"""

from __future__ import annotations

from tests.bench.scratch import arguments, database, save, timed

NAME = "pytake_bench_assignment"
AGENTS = 50

SEED = """
INSERT INTO organization (id, name, slug, settings, created_at)
    VALUES (1, 'Bench', 'bench', '{}', now());
INSERT INTO app_user (id, email, name, password_hash, created_at)
    SELECT n, 'agent' || n || '@bench.test', 'Agent ' || n, 'x', now()
    FROM generate_series(1, %(agents)s) n;
INSERT INTO membership (user_id, organization_id, role, created_at)
    SELECT n, 1, 'agent', now() FROM generate_series(1, %(agents)s) n;
INSERT INTO team (id, organization_id, name, settings, created_at)
    VALUES (1, 1, 'Sales', '{"assignment": {"policy": "round_robin", "sticky": true}}', now());
INSERT INTO team_member (team_id, user_id, created_at)
    SELECT 1, n, now() FROM generate_series(1, %(agents)s) n;
INSERT INTO channel (id, organization_id, kind, name, external_id, is_active,
                     rate_limit_per_second, config, created_at)
    VALUES (1, 1, 'whatsapp', 'Main', 'pn-bench', true, 80, '{}', now());
INSERT INTO contact (id, organization_id, wa_id, name, attributes, created_at)
    SELECT n, 1, (5500000000000 + n)::text, 'Customer ' || n, '{}', now()
    FROM generate_series(1, %(history)s) n;
INSERT INTO conversation (id, organization_id, channel_id, contact_id, status, assignee_id,
                          team_id, unread_count, last_activity_at, created_at, automation)
    SELECT n, 1, 1, n, 'resolved', 1 + n %% %(agents)s, 1, 0,
           now() - make_interval(secs => n), now() - make_interval(secs => n), '{}'
    FROM generate_series(1, %(history)s) n;
INSERT INTO conversation (id, organization_id, channel_id, contact_id, status, team_id,
                          unread_count, last_activity_at, created_at, automation)
    SELECT %(history)s + n, 1, 1, n * (%(history)s / %(waiting)s), 'open', 1, 1, now(),
           now() - make_interval(secs => %(waiting)s - n), '{}'
    FROM generate_series(1, %(waiting)s) n;
ANALYZE;
"""


def _measure(history: int, waiting: int, repeat: int) -> dict[str, float]:
    values = {"agents": AGENTS, "history": history, "waiting": waiting}
    with database(NAME, (SEED % values).replace("%%", "%")):
        return _figures(history, waiting, repeat)


def _figures(history: int, waiting: int, repeat: int) -> dict[str, float]:
    import sqlalchemy as sa

    from pytake import db
    from pytake.services import assignment

    online = set(range(1, AGENTS + 1))
    ids = list(range(history + 1, history + waiting + 1))

    def one_pass():
        with db.session() as s:
            assert len(assignment.assign_organization(s, 1, online)) == waiting
            s.rollback()

    def bare_update():
        with db.session() as s:
            s.execute(
                sa.text(
                    "UPDATE conversation SET assignee_id = 1 + id % :agents WHERE id = ANY(:ids)"
                ),
                {"agents": AGENTS, "ids": ids},
            )
            s.rollback()

    return {"baseline": timed(bare_update, repeat), "pass": timed(one_pass, repeat)}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--history", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--waiting", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    results = {h: _measure(h, args.waiting, args.repeat) for h in args.history}
    print(f"{'past conversations':<34}" + "".join(f"{h:>12,}" for h in args.history))
    ratio = "".join(f"{results[h]['pass'] / results[h]['baseline']:>12.1f}" for h in args.history)
    print(f"{f'pass of {args.waiting} (ratio to one UPDATE)':<34}{ratio}")
    per = "".join(f"{results[h]['pass'] / args.waiting * 1e3:>10.2f}ms" for h in args.history)
    print(f"{'pass, per conversation':<34}{per}")
    base = "".join(f"{results[h]['baseline'] * 1e3:>10.2f}ms" for h in args.history)
    print(f"{'(baseline, for reference)':<34}{base}")
    save(args.json, {"waiting": args.waiting, "seconds": results})


if __name__ == "__main__":
    main()
