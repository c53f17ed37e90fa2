"""Signed JWTs (HS256 only) with an audience and an expiry, via Authlib's joserfc."""

from __future__ import annotations

import functools
import hashlib
import hmac
import time

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from pytake.settings import get_settings

ALGORITHMS = ["HS256"]
ISSUER = "pytake"


class TokenError(Exception):
    """The token is malformed, forged, expired or meant for something else."""


@functools.cache
def _key(secret: str, purpose: str) -> OctKey:
    # A distinct key per purpose, so one kind of token can never stand in for another.
    derived = hmac.new(secret.encode(), b"pytake/jwt/" + purpose.encode(), hashlib.sha256).digest()
    return OctKey.import_key(derived)


def _signing_key(audience: str) -> OctKey:
    return _key(get_settings().resolved_secret_key(), audience)


def sign(claims: dict, *, audience: str, ttl_seconds: int) -> str:
    now = int(time.time())
    payload = {**claims, "iss": ISSUER, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode({"alg": "HS256"}, payload, _signing_key(audience), algorithms=ALGORITHMS)


def verify(token: str, *, audience: str) -> dict:
    if not token or len(token) > 4096:
        raise TokenError("missing or oversized token")
    try:
        decoded = jwt.decode(token, _signing_key(audience), algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise TokenError(type(exc).__name__) from None
    return decoded.claims
