"""An HTTP step's request to an outside system: only to the organization's allowed hosts,
never to the server's own network (``pytake.egress``: the host is resolved once, must be
public unless the operator allows it, and the connection goes to that checked address),
within its time limit, never following redirects, and never reading a huge answer."""

from __future__ import annotations

import json

import httpx

from pytake import egress
from pytake.flows.definition import host_allowed
from pytake.flows.engine import Request, Response

MAX_RESPONSE = 256 * 1024
USER_AGENT = "PyTake-Flows/1"
# Failures test mode explains in words (i18n ``flows.http_failed.<reason>``); others, such
# as an HTTP status or an exception's name, are shown as they are.
EXPLAINED = ("host_not_allowed", "timeout", "too_large", *egress.REASONS)


def perform(request: Request, hosts: list[str], *, transport=None) -> Response:
    """``transport``: tests' stand-in for the network (the guard's check still applies)."""
    # Checked again with the variables filled in: a customer's answer must not pick the host.
    if not host_allowed(request.url, hosts):
        return Response(failed="host_not_allowed")
    try:
        target = egress.vet(request.url)
    except egress.Refused as refused:
        return Response(failed=refused.reason)
    if target.host.lower() not in hosts:  # httpx's reading of the URL, the one that connects
        return Response(failed="host_not_allowed")
    headers = {"user-agent": USER_AGENT, **request.headers}
    body = request.body.encode() if request.body and request.method != "GET" else None
    if body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["content-type"] = "application/json"
    # Values hold customers' answers ("João"): UTF-8, where httpx would refuse non-ASCII.
    headers = {k: v.encode(errors="replace") for k, v in headers.items()}
    try:
        with (
            httpx.Client(
                timeout=request.timeout,
                follow_redirects=False,
                transport=transport or egress.GuardedTransport(pinned=target),
            ) as client,
            client.stream(request.method, request.url, headers=headers, content=body) as r,
        ):
            raw = b""
            for chunk in r.iter_bytes():
                raw += chunk
                if len(raw) > MAX_RESPONSE:
                    return Response(r.status_code, failed="too_large")
    except egress.Refused as refused:
        return Response(failed=refused.reason)
    except httpx.TimeoutException:
        return Response(failed="timeout")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # A URL or header the filled-in variables made invalid fails the step, not the run.
        return Response(failed=type(exc).__name__)
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    return Response(r.status_code, data)
