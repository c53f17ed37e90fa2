"""The HTTP routes mounted beside Reflex: health, the offline page and the session cookie."""

import httpx
import pytest
import sqlalchemy as sa

from pytake import db
from pytake.auth import sessions
from pytake.services import accounts
from pytake.web import routes

PASSWORD = "correct horse 1"


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=routes.build())
    async with httpx.AsyncClient(transport=transport, base_url="http://pytake.test") as c:
        yield c


def ticket_for_owner() -> str:
    with db.session() as s:
        accounts.setup(s, organization="Acme", name="O", email="o@acme.test", password=PASSWORD)
    with db.session() as s:
        return accounts.sign_in(
            s, email="o@acme.test", password=PASSWORD, ip=None, user_agent=None
        )[1]


async def test_healthz_reports_database_and_redis(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert response.headers["cache-control"] == "no-store"


async def test_the_offline_page_carries_both_languages_and_reconnects(client):
    response = await client.get("/offline")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    page = response.text
    assert "You are offline" in page and "Você está sem conexão" in page
    assert 'fetch("/healthz"' in page and "__TEXTS__" not in page
    assert page.count("</script>") == 1  # the texts cannot close the script early


async def test_healthz_is_503_when_the_database_is_down(client, settings_env):
    settings_env(database_url="postgresql://nobody@127.0.0.1:1/none")
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["database"] != "ok"


async def test_healthz_is_503_when_webhooks_could_not_be_stored(client, environment):
    """Reads answered, but a lock held elsewhere stops every write: not healthy."""
    engine = sa.create_engine(environment)
    with engine.connect() as holder:
        if engine.dialect.name == "postgresql":
            holder.exec_driver_sql("LOCK TABLE webhook_event IN EXCLUSIVE MODE")
        else:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
        response = await client.get("/healthz")
        holder.rollback()
    engine.dispose()
    assert response.status_code == 503
    assert response.json()["database"] != "ok"
    assert (await client.get("/healthz")).status_code == 200


async def test_healthz_is_503_when_redis_is_down(client, settings_env):
    settings_env(redis_url="redis://127.0.0.1:1/0", secret_key="k" * 40)
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["redis"] != "ok"


@pytest.mark.redis
async def test_healthz_with_redis(client, settings_env, redis_url):
    settings_env(redis_url=redis_url, secret_key="k" * 40)
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json()["redis"] == "ok"


async def test_ticket_becomes_an_httponly_cookie_once(client):
    ticket = ticket_for_owner()
    response = await client.post("/auth/session", json={"ticket": ticket})
    assert response.status_code == 204
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE_NAME}=")
    for attribute in ("HttpOnly", "SameSite=lax", "Path=/", "Max-Age="):
        assert attribute.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here; https sets Secure
    value = response.cookies[sessions.COOKIE_NAME]
    with db.session() as s:
        assert sessions.resolve(s, value) is not None
    again = await client.post("/auth/session", json={"ticket": ticket})
    assert again.status_code == 401


async def test_cookie_is_secure_behind_https(client, settings_env):
    settings_env(public_url="https://inbox.example.com")
    ticket = ticket_for_owner()
    response = await client.post(
        "/auth/session", json={"ticket": ticket}, headers={"origin": "https://inbox.example.com"}
    )
    assert response.status_code == 204
    assert "secure" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"not json", "headers": {"content-type": "application/json"}}, 400),
        ({"json": ["ticket"]}, 400),
        ({"json": {"ticket": 42}}, 400),
        ({"json": {"ticket": "forged.token.value"}}, 401),
        ({"content": b"x" * 5000}, 400),
        ({"json": {"ticket": "t"}, "headers": {"origin": "https://evil.example"}}, 403),
    ],
)
async def test_bad_session_requests_are_refused(client, kwargs, status):
    response = await client.post("/auth/session", **kwargs)
    assert response.status_code == status
    assert "set-cookie" not in response.headers


async def test_logout_route_revokes_and_clears_the_cookie(client):
    ticket = ticket_for_owner()
    created = await client.post("/auth/session", json={"ticket": ticket})
    value = created.cookies[sessions.COOKIE_NAME]
    response = await client.post("/auth/logout")
    assert response.status_code == 204
    assert 'pytake_session=""' in response.headers["set-cookie"]
    with db.session() as s:
        assert sessions.resolve(s, value) is None


async def test_logout_refuses_cross_origin(client):
    response = await client.post("/auth/logout", headers={"origin": "https://evil.example"})
    assert response.status_code == 403
