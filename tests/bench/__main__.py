"""Every benchmark, one after the other, each with its baseline measured in the same run:

    python -m tests.bench [ingest apply push sessions outbound inbox assignment insight]
        [--quick] [--out DIR]

Each prints its table; the results go to ``DIR/<name>.json`` (default ``bench-results``).
``--quick`` runs smaller sizes and shorter loads, to check the benchmarks work, not to
quote their figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

NAMES = ("ingest", "apply", "push", "sessions", "outbound", "inbox", "assignment", "insight")
QUICK = {
    "ingest": ["--seconds", "10", "--burst-seconds", "5"],
    "apply": ["--webhooks", "200", "--customers", "20"],
    "push": ["--agents", "10", "--rate", "20", "--seconds", "10"],
    "sessions": ["--steps", "10", "50", "--probes", "10"],
    "outbound": ["--messages", "1000"],
    "inbox": ["--sizes", "1000", "10000", "--repeat", "5"],
    "assignment": ["--history", "1000", "--repeat", "3"],
    "insight": ["--messages", "50000", "--repeat", "3"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="name", help=", ".join(NAMES))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()
    unknown = set(args.names) - set(NAMES)
    if unknown:
        parser.error(f"no benchmark named {', '.join(sorted(unknown))}; choose from {NAMES}")
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    failed = []
    for name in args.names or NAMES:
        extra = QUICK[name] if args.quick else []
        command = [sys.executable, "-m", f"tests.bench.bench_{name}", *extra]
        command += ["--json", str(out / f"{name}.json")]
        print(f"== {name}: {' '.join(command[2:])}", flush=True)
        started = time.perf_counter()
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.perf_counter() - started:.0f} s\n", flush=True)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
