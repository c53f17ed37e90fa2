"""The Meta simulator as its own process for the benchmarks, so its work never shares a core
or the GIL with the load generator: ``granian --interface asgi tests.bench.graph_app:app``.

At import it knows the bench number and ``BENCH_MEDIA`` customer files, whose ids and
hashes it writes to ``BENCH_MEDIA_FILE`` for the webhooks to name.
"""

from __future__ import annotations

import json
import os

from pytake.sandbox.graph import GraphSimulator

PNID, WABA, DISPLAY = "190000000000001", "890000000000001", "15550009999"
TOKEN, SECRET = "EAAbenchtoken", "bench-app-secret"
FILES = (("image/jpeg", b"\xff\xd8\xff"), ("audio/ogg", b"OggS"), ("application/pdf", b"%PDF-"))

simulator = GraphSimulator(os.environ.get("BENCH_GRAPH_URL", "http://127.0.0.1:8900"))
simulator.add_number(PNID, WABA, DISPLAY, TOKEN, SECRET)
media = []
for n in range(int(os.environ.get("BENCH_MEDIA", "30"))):
    mime, magic = FILES[n % len(FILES)]
    media_id = simulator.add_media(magic + os.urandom(20_000), mime)
    media.append({"id": media_id, "mime": mime, "sha256": simulator.media(media_id).sha256})
if os.environ.get("BENCH_MEDIA_FILE"):
    with open(os.environ["BENCH_MEDIA_FILE"], "w") as out:
        json.dump(media, out)


app = simulator.app
