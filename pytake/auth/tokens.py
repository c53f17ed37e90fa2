"""Signed JWTs (HS256 only) with an audience and an expiry, via Authlib's joserfc."""

from __future__ import annotations

import collections
import functools
import hashlib
import hmac
import threading
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


# Tokens already verified, with their claims: every websocket event of a tab carries the same
# session cookie, and decoding and checking it was a visible share of a web worker's CPU. A
# verified token cannot change (it is signed), so only its expiry is checked again on a hit.
_VERIFIED_CAPACITY = 4096
_verified: collections.OrderedDict[tuple[str, str, str], dict] = collections.OrderedDict()
_verified_lock = threading.Lock()


def verify(token: str, *, audience: str) -> dict:
    if not token or len(token) > 4096:
        raise TokenError("missing or oversized token")
    key = (get_settings().resolved_secret_key(), audience, token)  # a new key verifies anew
    with _verified_lock:
        claims = _verified.get(key)
        if claims is not None:
            _verified.move_to_end(key)
    if claims is not None:
        if claims["exp"] > time.time():
            return dict(claims)
        raise TokenError("ExpiredTokenError")
    claims = _verify(token, audience)
    with _verified_lock:
        _verified[key] = claims
        while len(_verified) > _VERIFIED_CAPACITY:
            _verified.popitem(last=False)
    return dict(claims)


def _verify(token: str, audience: str) -> dict:
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
