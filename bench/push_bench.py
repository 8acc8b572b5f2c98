#!/usr/bin/env python
"""Benchmark of secret push protection (issue 17): what scanning a push costs.

Pushes the same commit of about 50 MB of text (500 source-like files of 100 KB: every file
is scanned, the worst case) with `git push` over HTTP to a fresh project of the site under
gunicorn, with push protection off and on in alternating order, and prints the medians of

  - the push's wall time (what the user waits for), and
  - the CPU seconds the server spent on it (gunicorn's workers and every git process and hook
    they started, from /proc),

with the ratio on/off for each, and the same with other services' secrets scanned too. The
target: the scan adds at most 10% to the push's time.

    .venv/bin/python bench/push_bench.py [--rounds 5] [--megabytes 50]

Needs PostgreSQL (as bench/auth_bench.py) and git. Figures vary with the machine; the ratios
are what to compare. Nothing here is a test.
"""

import argparse
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.auth_bench import (  # noqa: E402 (after the path is set)
    configure_environment,
    recreate_database,
    start_gunicorn,
    use_database,
)

DATABASE = "tokens_bench_push"
TARGET_RATIO = 1.10
MODES = ("off", "on", "on + third party")
FILE_BYTES = 100_000
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    ).stdout


def make_commit(work: Path, megabytes: int) -> None:
    """A repository whose one commit holds `megabytes` MB of source-like text."""
    rng = random.Random(17)  # noqa: S311  (test data, not secrets)
    words = [
        "".join(rng.choice(string.ascii_lowercase + "_") for _ in range(rng.randint(2, 10)))
        for _ in range(5000)
    ]
    git("init", "-q", "-b", "main", str(work))
    for n in range(megabytes * 1_000_000 // FILE_BYTES):
        lines, size = [], 0
        while size < FILE_BYTES:
            line = " ".join(rng.choice(words) for _ in range(10))
            line = f"    {line} = 0x{rng.getrandbits(64):x}  # {n}-{size}\n"
            lines.append(line)
            size += len(line)
        path = work / "src" / f"module_{n:04}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(lines))
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "Bench", cwd=work)


def set_up(database: str, work: Path, megabytes: int) -> None:
    """Django on a new `database` (the shared cache cleared), and a commit of `megabytes` MB
    of text in the repository `work`."""
    import django

    django.setup()
    from django.core.cache import cache

    cache.clear()
    print(f"Preparing a commit of {megabytes} MB of text...")
    make_commit(work, megabytes)
    recreate_database(database)
    use_database(database)


def prepare(pushes: int) -> tuple[str, list[str]]:
    """A user with a write_repository token and `pushes` empty projects: (token, paths)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from personal_tokens.services import personal_token_create
    from tokens_site.services import group_create, project_create

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", "bench@example.com", "x" * 20)
    group = group_create(actor=user, name="Bench", path="bench")
    paths = [
        project_create(actor=user, group=group, name=f"P{n}", path=f"p{n}").full_path
        for n in range(pushes)
    ]
    _, value = personal_token_create(
        actor=user, user=user, name="bench", scopes=["write_repository"]
    )
    return value, paths


def set_mode(mode: str) -> None:
    from tokens_site.models import InstanceSettings

    instance = InstanceSettings.current()
    instance.secret_push_protection_enabled = mode != "off"
    instance.secret_push_protection_third_party = mode == "on + third party"
    instance.save()


def server_cpu(master: int) -> float:
    """CPU seconds of gunicorn and its workers, with every child they have waited for (git
    http-backend, receive-pack, the hook)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in [master, *map(int, children)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=50)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tokens-push-bench-"))
    env = configure_environment(workdir)
    env["INSTANCE_SETTINGS_CACHE_SECONDS"] = "0"  # a mode change reaches the server at once
    os.environ["INSTANCE_SETTINGS_CACHE_SECONDS"] = "0"
    work = workdir / "work"
    set_up(DATABASE, work, options.megabytes)
    token, paths = prepare(len(MODES) * (options.rounds + 1))
    server, url = start_gunicorn(env, DATABASE)
    host = url.removeprefix("http://")
    samples: dict[str, dict[str, list[float]]] = {m: {"wall": [], "cpu": []} for m in MODES}
    try:
        for round_number in range(options.rounds + 1):  # round 0 warms up
            order = MODES if round_number % 2 else tuple(reversed(MODES))
            for mode in order:
                set_mode(mode)
                path = paths.pop()
                cpu_before = server_cpu(server.pid)
                started = time.perf_counter()
                git("push", "-q", f"http://bench:{token}@{host}/{path}.git", "main", cwd=work)
                wall = time.perf_counter() - started
                time.sleep(0.5)  # the worker reaps git once the answer is streamed
                cpu = server_cpu(server.pid) - cpu_before
                if round_number:
                    samples[mode]["wall"].append(wall)
                    samples[mode]["cpu"].append(cpu)
    finally:
        server.terminate()
        server.wait()
    medians = {
        mode: {key: statistics.median(values) for key, values in figures.items()}
        for mode, figures in samples.items()
    }
    base = medians["off"]
    print(
        f"\n`git push` of {options.megabytes} MB of text to a new project, "
        f"median of {options.rounds} interleaved rounds\n"
    )
    header = ("push protection", "wall (s)", "x off", "server CPU (s)", "x off")
    print("{:20} {:>9} {:>7} {:>15} {:>7}".format(*header))
    for mode, figures in medians.items():
        print(
            f"{mode:20} {figures['wall']:9.2f} {figures['wall'] / base['wall']:7.2f} "
            f"{figures['cpu']:15.2f} {figures['cpu'] / base['cpu']:7.2f}"
        )
    ratio = medians["on"]["wall"] / base["wall"]
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"\nTarget: push time with the scan <= {TARGET_RATIO} x without: {ratio:.2f} ({verdict})")


if __name__ == "__main__":
    main()
