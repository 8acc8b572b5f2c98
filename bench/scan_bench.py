#!/usr/bin/env python
"""Benchmark of finding leaked tokens in text (issue 17): what the admin's Token information
page and `find_tokens` spend on 1 MB of pasted text, in CPU seconds (median of the rounds), for:

  1. 1 MB of plain log lines (no token)                 the floor: reading the text
  2. 1 MB of random bytes, decoded as latin-1
  3. 1 MB holding 25,000 look-alikes with bad checksums (`glpat-` + 32 base62)
  4. 1 MB of log lines with 100 real-looking tokens     (checksum right: looked up)
  5. 1 MB of log lines, each with a well-formed token   (about 9,000: every one looked up)

Each is printed with its ratio to the floor. The target: the 1 MB page under a second on a
2-core machine. Runs on the test settings' SQLite database in a temporary directory.

    .venv/bin/python bench/scan_bench.py [--rounds 7]

Figures vary with the machine; nothing here is a test.
"""

import argparse
import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def texts() -> dict[str, str]:
    from tokens_site.tokens import token_generate

    rng = random.Random(17)  # noqa: S311  (test data, not secrets)
    line = "2030-01-01T00:00:00Z INFO GET /api/v4/projects/42/repository/files 200 12ms\n"
    alphabet = string.ascii_letters + string.digits
    look = " ".join(
        "glpat-" + "".join(rng.choice(alphabet) for _ in range(32)) for _ in range(25_000)
    )
    real = "".join(f"{line[:-1]} token={token_generate('glpat-')}\n" for _ in range(100))
    every = "".join(f"{line[:-1]} token={token_generate('glpat-')}\n" for _ in range(9000))
    return {
        "plain log lines": (line * (MB // len(line) + 1))[:MB],
        "random bytes": bytes(rng.getrandbits(8) for _ in range(MB)).decode("latin-1"),
        "25,000 look-alikes": (look + "\n" + line * (MB // len(line)))[:MB],
        "100 well-formed tokens": (real + line * (MB // len(line)))[:MB],
        "a token on every line": every[:MB],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(BASE_DIR))
    workdir = tempfile.mkdtemp(prefix="scan-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokens_site.test_settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tokens_site.token_inventory import identify
    from tokens_site.token_scan import scan

    samples = texts()
    times: dict[str, list[float]] = {name: [] for name in samples}
    for _ in range(args.rounds):
        for name, text in samples.items():  # interleaved: no case gets a warmer machine
            start = time.process_time()
            identify(scan(text))
            times[name].append(time.process_time() - start)
    floor = statistics.median(times["plain log lines"])
    print(f"CPU seconds per 1 MB, median of {args.rounds} rounds (min-max):")
    for name, values in times.items():
        median = statistics.median(values)
        ratio = median / floor if floor else float("inf")
        print(
            f"  {name:24} {median:7.3f} s ({min(values):.3f}-{max(values):.3f})"
            f"  {ratio:5.1f}x the floor"
        )
    worst = max(statistics.median(v) for v in times.values())
    print(f"Slowest case: {worst:.3f} s (target: under 1 s)")


if __name__ == "__main__":
    main()
