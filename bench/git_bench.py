#!/usr/bin/env python
"""Benchmark of Git over HTTP at CI scale (issue 22): what a clone storm costs through the site,
as ratios against plain git on the same machine, measured in the same run.

  (a) `info/refs?service=git-upload-pack` with a deploy token, requests per second (wrk), vs
      `/-/readiness` (unauthenticated, one query: the floor of any view): in pairs of runs
      (floor, info/refs, info/refs, floor), `--pairs` per round; the ratio is the median of
      the pairs' ratios (a slow spell of a shared machine then slows both sides of a pair);
  (b) one `git clone` of a ~50 MB repository through the site vs `git clone --no-local
      file://` of the same bare repository (the site's pack cache empty: this clone writes it);
  (c) a storm of 20 concurrent clones of the same commit through the site (pack cache empty at
      the start) vs 20 concurrent `file://` clones:
      - the serving side's CPU seconds (user + system): gunicorn with every git it started, vs
        the 20 `git upload-pack` (and their pack-objects) the file:// clones start;
      - every process's CPU seconds, the clients' too, and wall time, as information: the
        clients' own work (index-pack, checkout) is the same both ways and most of the total,
        so no server can take these near the serving side's ratio on one machine;
      - serving the storm without the clients' work: the same fetch request (as `git clone`
        sends it) 20 times at once through the site (curl to /dev/null), vs 20 `git upload-pack
        --stateless-rpc` answering it (to /dev/null): wall time and the serving side's CPU;
  (d) the same storm with a push landing in the middle.

    .venv/bin/python bench/git_bench.py [--rounds 3] [--pairs 3] [--megabytes 50] [--clones 20]

Needs PostgreSQL (as bench/auth_bench.py), git, curl and wrk (apt-get install wrk curl).
Medians of interleaved rounds; each ratio is the median of the ratios of runs made side by
side (a round's site and git variants, (a)'s pairs), so that a slow spell of a shared machine
slows both sides of a ratio. CPU seconds are steadier than wall time on a shared machine.
Targets (the issue's, on the serving side): (a) >= 0.5, (b) <= 1.1, (c) CPU <= 0.3, wall <=
0.5. Nothing here is a test.
"""

import argparse
import base64
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.auth_bench import (  # noqa: E402 (after the path is set)
    configure_environment,
    start_gunicorn,
    wrk,
)
from bench.push_bench import GIT_ENV, git, server_cpu, set_up  # noqa: E402

DATABASE = "tokens_bench_git"
TARGETS = {
    "info/refs": (">=", 0.5),
    "clone": ("<=", 1.1),
    "storm serving CPU": ("<=", 0.3),
    "serving wall": ("<=", 0.5),
}
# `git clone --upload-pack=<this>`: upload-pack, then the shell's `times` (its children's CPU:
# upload-pack and the pack-objects it ran) appended to $TIMES_FILE.
UPLOAD_PACK_WRAPPER = """#!/bin/sh
git upload-pack "$@"
status=$?
times >> "$TIMES_FILE"
exit $status
"""


def prepare() -> tuple:
    """A project with a deploy token (read_repository: the CI runners') and its owner's
    personal token (write_repository: the push): (project, deploy token username, deploy
    token, personal token)."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from deploy_tokens.services import deploy_token_create
    from personal_tokens.services import personal_token_create
    from tokens_site.services import group_create, project_create

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", "bench@example.com", "x" * 20)
    group = group_create(actor=user, name="Bench", path="bench")
    project = project_create(actor=user, group=group, name="Big", path="big")
    token, value = deploy_token_create(
        actor=user,
        owner=project,
        name="ci",
        scopes=["read_repository"],
    )
    _, personal = personal_token_create(
        actor=user, user=user, name="push", scopes=["write_repository"]
    )
    return project, token.username, value, personal


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children so far (the clients)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def shell_times(path: Path) -> float:
    """The children's CPU seconds in what `times` wrote to `path` (every second line), and
    empty it."""
    if not path.exists():
        return 0.0
    total = 0.0
    for line in path.read_text().splitlines()[1::2]:
        for field in line.split():
            minutes, _, seconds = field.rstrip("s").partition("m")
            total += int(minutes) * 60 + float(seconds)
    path.unlink()
    return total


def settle() -> None:
    """What the last variant wrote goes to disk before the next one starts (20 clones write
    1 GB: written out during the next variant, it slowed whichever came next)."""
    os.sync()
    time.sleep(0.5)


def run_all(commands: list[list[str]], *, env: dict, stdin: Path | None = None, during=None):
    """Run the commands at once; `during` runs when they have started. Returns (wall seconds,
    their CPU seconds)."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            command,
            env=env,
            stdin=stdin.open("rb") if stdin else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for command in commands
    ]
    if during is not None:
        time.sleep(0.3)
        during()
    for process in processes:
        _, errors = process.communicate()
        if process.returncode:
            raise SystemExit(f"{process.args[:3]} failed: {errors.decode()}")
    return time.perf_counter() - started, children_cpu() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--clones", type=int, default=20)
    parser.add_argument("--duration", type=int, default=2, help="wrk seconds per run")
    parser.add_argument("--pairs", type=int, default=3, help="(a)'s pairs of runs per round")
    options = parser.parse_args()
    for program in ("wrk", "curl"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is needed: apt-get install {program}")

    workdir = Path(tempfile.mkdtemp(prefix="tokens-git-bench-"))
    env = configure_environment(workdir)
    work = workdir / "work"
    set_up(DATABASE, work, options.megabytes)
    project, username, secret, personal = prepare()
    path, bare = project.full_path, project.repository_path
    git("push", "-q", str(bare), "main", cwd=work)
    plain = f"file://{bare}"
    server, url = start_gunicorn(env, DATABASE)
    host = url.removeprefix("http://")
    site = f"http://{username}:{secret}@{host}/{path}.git"
    basic = "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    pusher = workdir / "pusher"
    git("clone", "-q", plain, str(pusher))
    pack_cache = bare.parents[3] / ".cache" / "upload-pack"
    wrapper = workdir / "upload-pack.sh"
    wrapper.write_text(UPLOAD_PACK_WRAPPER)
    wrapper.chmod(0o755)
    times_file = workdir / "times.txt"
    plain_env = {**GIT_ENV, "TIMES_FILE": str(times_file)}
    # The fetch request a `git clone -q` sends, for serving without the clients' work.
    head = subprocess.run(
        ["git", "--git-dir", str(bare), "rev-parse", "main"], capture_output=True, text=True
    ).stdout.strip()
    request = workdir / "fetch-request"
    request.write_bytes(fetch_request(head))

    def push_one() -> None:
        (pusher / "pushed.txt").write_text(f"{time.time()}\n")
        git("add", "pushed.txt", cwd=pusher)
        git("commit", "-q", "-m", "pushed during the storm", cwd=pusher)
        git("push", "-q", f"http://bench:{personal}@{host}/{path}.git", "HEAD:main", cwd=pusher)

    def clones(address: str, count: int, target: Path) -> list[list[str]]:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        extra = ["--upload-pack", str(wrapper)] if address == plain else []
        return [
            ["git", "clone", "-q", *extra, address, str(target / f"c{n}")] for n in range(count)
        ]

    figures: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    def measure(label, name, commands, *, during=None, stdin=None, env=None, keep: bool):
        """Run one variant; note its wall, all CPU and serving-side CPU."""
        shutil.rmtree(pack_cache, ignore_errors=True)  # a cold storm: its first clone writes
        settle()
        shell_times(times_file)
        server_before = server_cpu(server.pid)
        wall, clients = run_all(commands, env=env or plain_env, stdin=stdin, during=during)
        time.sleep(0.5)  # the workers reap their git processes
        if name == "site":
            serving = server_cpu(server.pid) - server_before
        else:
            serving = shell_times(times_file) if stdin is None else clients
        if keep:
            note(f"{label} wall {name}", wall)
            note(f"{label} serving CPU {name}", serving)
            note(f"{label} CPU {name}", clients + (serving if name == "site" else 0))
        shutil.rmtree(workdir / "clones", ignore_errors=True)

    curl = [
        "curl", "-sf", "-o", "/dev/null", "--data-binary", f"@{request}",
        "-H", f"Authorization: {basic}", "-H", "Git-Protocol: version=2",
        "-H", "Content-Type: application/x-git-upload-pack-request",
        f"{url}/{path}.git/git-upload-pack",
    ]  # fmt: skip
    direct = ["git", "upload-pack", "--stateless-rpc", str(bare)]
    try:
        for round_number in range(options.rounds + 1):  # round 0 warms up
            keep = round_number > 0
            # (a) info/refs vs the floor, in pairs (floor, refs, refs, floor) on a settled disk:
            # each pair's ratio, so that a slow spell of the machine hits both sides of it.
            settle()
            for _ in range(options.pairs):
                rates: dict[str, list[float]] = {"readiness": [], "info/refs": []}
                for name in ("readiness", "info/refs", "info/refs", "readiness"):
                    address, authorization = (
                        (f"{url}/-/readiness", None)
                        if name == "readiness"
                        else (f"{url}/{path}.git/info/refs?service=git-upload-pack", basic)
                    )
                    rates[name].append(
                        wrk(
                            address,
                            authorization=authorization,
                            duration=options.duration,
                            connections=16,
                        )
                    )
                if keep:
                    refs = statistics.mean(rates["info/refs"])
                    floor = statistics.mean(rates["readiness"])
                    note("info/refs req/s", refs)
                    note("readiness req/s", floor)
                    note("info/refs ratio", refs / floor)
            # (b) one clone; (c) and (d) the storms.
            for label, count, during in (
                ("clone", 1, None),
                ("storm", options.clones, None),
                ("storm + push", options.clones, push_one),
            ):
                for name, address in (("file://", plain), ("site", site)):
                    commands = clones(address, count, workdir / "clones")
                    run_during = during if name == "site" else None
                    measure(label, name, commands, during=run_during, keep=keep)
            # (c) serving the storm without the clients.
            v2 = {**GIT_ENV, "GIT_PROTOCOL": "version=2"}
            serve = [direct] * options.clones
            measure("serving", "file://", serve, stdin=request, env=v2, keep=keep)
            measure("serving", "site", [curl] * options.clones, keep=keep)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    report(figures, options)


def fetch_request(want: str) -> bytes:
    """A protocol v2 fetch of `want` with the arguments `git clone -q` (2.39) sends."""

    def pkt(line: str) -> bytes:
        return f"{len(line) + 4:04x}".encode() + line.encode()

    arguments = ["thin-pack", "no-progress", "include-tag", "ofs-delta", f"want {want}", "done"]
    return (
        pkt("command=fetch\n")
        + pkt("agent=git/2.39.5\n")
        + pkt("object-format=sha1\n")
        + b"0001"
        + b"".join(pkt(f"{argument}\n") for argument in arguments)
        + b"0000"
    )


def report(figures: dict[str, list[float]], options) -> None:
    median = {name: statistics.median(values) for name, values in figures.items()}

    def ratio(key: str) -> float:
        """The median of the rounds' own ratios: a round's two variants run one after the
        other, so a slow spell of a shared machine slows both sides of its ratio."""
        pairs = zip(figures[f"{key} site"], figures[f"{key} file://"], strict=True)
        return statistics.median(site / base for site, base in pairs)

    print(f"\nGit over HTTP, {options.megabytes} MB repository, median of {options.rounds} rounds")
    print(f"\n{'measure':44} {'site':>9} {'git':>9} {'ratio':>7}  target")
    n = options.clones
    rows = [
        ("(a) info/refs req/s vs readiness", None, "info/refs"),
        ("(b) one clone, wall s", "clone wall", "clone"),
        ("(b) one clone, CPU s (all)", "clone CPU", None),
        (f"(c) {n} clones, serving CPU s", "storm serving CPU", "storm serving CPU"),
        (f"(c) {n} clones, CPU s (all, clients too)", "storm CPU", None),
        (f"(c) {n} clones, wall s (clients too)", "storm wall", None),
        (f"(c) serving {n} fetches, wall s", "serving wall", "serving wall"),
        (f"(c) serving {n} fetches, CPU s", "serving serving CPU", None),
        ("(d) with a push, serving CPU s", "storm + push serving CPU", None),
        ("(d) with a push, CPU s (all)", "storm + push CPU", None),
        ("(d) with a push, wall s", "storm + push wall", None),
    ]
    for title, key, target_key in rows:
        if key is None:
            site, base = median["info/refs req/s"], median["readiness req/s"]
            value = median["info/refs ratio"]
        else:
            site, base = median[f"{key} site"], median[f"{key} file://"]
            value = ratio(key)
        met = ""
        if target_key:
            sign, limit = TARGETS[target_key]
            ok = value >= limit if sign == ">=" else value <= limit
            met = f"{sign} {limit} ({'met' if ok else 'NOT met'})"
        print(f"{title:44} {site:9.2f} {base:9.2f} {value:7.2f}  {met}")
    print(
        "\n(a)'s git column is the readiness view; elsewhere it is plain git (file://). Site and"
        "\ngit are medians; a ratio is the median of the ratios of runs side by side in time"
        "\n(each round's, and for (a) each pair's)."
    )


if __name__ == "__main__":
    main()
