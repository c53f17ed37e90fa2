import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from pytake.auth import tokens


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_round_trip_carries_claims_issuer_audience_and_expiry():
    token = tokens.sign({"sid": "abc"}, audience="pytake:session", ttl_seconds=60)
    claims = tokens.verify(token, audience="pytake:session")
    assert claims["sid"] == "abc"
    assert claims["iss"] == "pytake" and claims["aud"] == "pytake:session"
    assert 59 <= claims["exp"] - time.time() <= 61


def test_a_token_for_one_audience_is_refused_for_another():
    ticket = tokens.sign({"sid": "abc"}, audience="pytake:ticket", ttl_seconds=60)
    with pytest.raises(tokens.TokenError):
        tokens.verify(ticket, audience="pytake:session")


def test_tampered_payload_is_refused():
    header, _, signature = tokens.sign(
        {"sid": "abc"}, audience="pytake:session", ttl_seconds=60
    ).split(".")
    forged = _b64(
        {
            "sid": "someone-else",
            "iss": "pytake",
            "aud": "pytake:session",
            "exp": int(time.time()) + 60,
        }
    )
    with pytest.raises(tokens.TokenError):
        tokens.verify(f"{header}.{forged}.{signature}", audience="pytake:session")


def test_expired_token_is_refused():
    token = tokens.sign({"sid": "abc"}, audience="pytake:session", ttl_seconds=-1)
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, audience="pytake:session")


def test_unsigned_alg_none_token_is_refused():
    claims = {"sid": "abc", "iss": "pytake", "aud": "pytake:session", "exp": int(time.time()) + 60}
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, audience="pytake:session")


def test_other_algorithms_are_refused_even_with_the_right_key():
    key = tokens._signing_key("pytake:session")
    claims = {"sid": "abc", "iss": "pytake", "aud": "pytake:session", "exp": int(time.time()) + 60}
    token = jwt.encode({"alg": "HS512"}, claims, key, algorithms=["HS512"])
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, audience="pytake:session")


def test_a_token_signed_with_another_secret_is_refused():
    other = OctKey.import_key(b"another-deployment-secret-key-32b")
    claims = {"sid": "abc", "iss": "pytake", "aud": "pytake:session", "exp": int(time.time()) + 60}
    token = jwt.encode({"alg": "HS256"}, claims, other, algorithms=["HS256"])
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, audience="pytake:session")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 5000])
def test_malformed_and_oversized_tokens_are_refused(token):
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, audience="pytake:session")


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch):
    token = tokens.sign({"sid": "abc"}, audience="pytake:session", ttl_seconds=2)
    assert tokens.verify(token, audience="pytake:session")["sid"] == "abc"
    with pytest.raises(tokens.TokenError):  # remembered for its own audience only
        tokens.verify(token, audience="pytake:ticket")
    decoded: list[str] = []
    monkeypatch.setattr(tokens, "_verify", lambda t, a: decoded.append(t))
    claims = tokens.verify(token, audience="pytake:session")  # from memory: not decoded again
    assert claims["sid"] == "abc" and decoded == []
    claims["sid"] = "changed by a caller"
    assert tokens.verify(token, audience="pytake:session")["sid"] == "abc"
    monkeypatch.setattr(tokens.time, "time", lambda: claims["exp"] + 1)
    with pytest.raises(tokens.TokenError, match="Expired"):
        tokens.verify(token, audience="pytake:session")
