"""The Meta simulator as its own process for the benchmarks, so its work never shares a core
or the GIL with the load generator: ``granian --interface asgi tests.bench.graph_app:app``.

At import it knows ``BENCH_NUMBERS`` bench numbers (the first is ``PNID``) and
``BENCH_MEDIA`` customer files, whose ids and hashes it writes to ``BENCH_MEDIA_FILE`` for
the webhooks to name. ``BENCH_CHAOS`` (``130429=0.05,131000=0.02,timeout=0.01``) makes that
share of sends fail at random. Every call to a number's ``/messages`` is timed on arrival,
failed or not (Meta counts them all against its throughput): ``GET /_bench/arrivals`` lists
the times per number, ``DELETE`` forgets them.
"""

from __future__ import annotations

import collections
import json
import os
import re
import time

from starlette.responses import JSONResponse, Response

from pytake.sandbox.graph import GraphSimulator

PNID, WABA, DISPLAY = "190000000000001", "890000000000001", "15550009999"
TOKEN, SECRET = "EAAbenchtoken", "bench-app-secret"
FILES = (("image/jpeg", b"\xff\xd8\xff"), ("audio/ogg", b"OggS"), ("application/pdf", b"%PDF-"))
GRAPH_TIMEOUT_DELAY = 35.0  # past PyTake's 30-second read timeout
SENDS = re.compile(r"/v\d+\.0/(\d+)/messages")


def number(n: int) -> tuple[str, str]:
    """The ``n``-th bench number's id and display number (all in one business account)."""
    return str(int(PNID) + n), str(int(DISPLAY) + n)


def parse_chaos(text: str) -> tuple[dict[int, float], float]:
    """``code=share,…,timeout=share`` → (errors, timeouts)."""
    errors, timeouts = {}, 0.0
    for part in filter(None, text.split(",")):
        what, _, share = part.partition("=")
        if what.strip() == "timeout":
            timeouts = float(share)
        else:
            errors[int(what)] = float(share)
    return errors, timeouts


simulator = GraphSimulator(os.environ.get("BENCH_GRAPH_URL", "http://127.0.0.1:8900"))
for n in range(int(os.environ.get("BENCH_NUMBERS", "1"))):
    pnid, display = number(n)
    simulator.add_number(pnid, WABA, display, TOKEN, SECRET)
errors, timeouts = parse_chaos(os.environ.get("BENCH_CHAOS", ""))
simulator.chaos(errors, timeouts=timeouts, delay=GRAPH_TIMEOUT_DELAY, seed=3)
media = []
for n in range(int(os.environ.get("BENCH_MEDIA", "30"))):
    mime, magic = FILES[n % len(FILES)]
    media_id = simulator.add_media(magic + os.urandom(20_000), mime)
    media.append({"id": media_id, "mime": mime, "sha256": simulator.media(media_id).sha256})
if os.environ.get("BENCH_MEDIA_FILE"):
    with open(os.environ["BENCH_MEDIA_FILE"], "w") as out:
        json.dump(media, out)
arrivals: dict[str, list[float]] = collections.defaultdict(list)


async def app(scope, receive, send) -> None:
    if scope["type"] == "http":
        if scope["path"] == "/_bench/arrivals":
            if scope["method"] == "DELETE":
                arrivals.clear()
                response = Response(status_code=204)
            else:
                response = JSONResponse(arrivals)
            await response(scope, receive, send)
            return
        sent = SENDS.fullmatch(scope["path"])
        if sent and scope["method"] == "POST":
            arrivals[sent[1]].append(time.time())
    await simulator.app(scope, receive, send)
