#!/usr/bin/env python
"""Benchmark of Git over HTTP at CI scale (issue 22): what a clone storm costs through the site,
as ratios against plain git on the same machine, measured in the same run.

  (a) `info/refs?service=git-upload-pack` with a deploy token, requests per second (wrk), vs
      `/-/readiness` (unauthenticated, one query: the floor of any view);
  (b) one `git clone` of a ~50 MB repository through the site vs `git clone --no-local
      file://` of the same bare repository;
  (c) a storm of 20 concurrent clones of the same commit through the site vs 20 concurrent
      `file://` clones: total CPU seconds (user + system of every process: the clients, and for
      the site gunicorn with every git it started) and wall time;
  (d) the same storm with a push landing in the middle.

    .venv/bin/python bench/git_bench.py [--rounds 3] [--megabytes 50] [--clones 20]

Needs PostgreSQL (as bench/auth_bench.py), git and wrk (apt-get install wrk). Medians of
interleaved rounds; CPU seconds are steadier than wall time on a shared machine. Targets (the
issue's): (a) >= 0.5, (b) <= 1.1, (c) CPU <= 0.3 and wall <= 0.5. Nothing here is a test.
"""

import argparse
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
    recreate_database,
    start_gunicorn,
    use_database,
    wrk,
)
from bench.push_bench import GIT_ENV, git, make_commit, server_cpu  # noqa: E402

DATABASE = "tokens_bench_git"
TARGETS = {
    "info/refs": (">=", 0.5),
    "clone": ("<=", 1.1),
    "storm CPU": ("<=", 0.3),
    "storm wall": ("<=", 0.5),
}


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


def storm(urls: list[str], target: Path, *, during=None) -> tuple[float, float]:
    """Clone every URL at once into `target`; `during` runs when they have started. Returns
    (wall seconds, client CPU seconds)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    cpu_before = children_cpu()
    started = time.perf_counter()
    clones = [
        subprocess.Popen(
            ["git", "clone", "-q", url, str(target / f"c{n}")],
            env=GIT_ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n, url in enumerate(urls)
    ]
    if during is not None:
        time.sleep(0.3)
        during()
    for clone in clones:
        _, errors = clone.communicate()
        if clone.returncode:
            raise SystemExit(f"a clone failed: {errors.decode()}")
    wall = time.perf_counter() - started
    shutil.rmtree(target, ignore_errors=True)
    return wall, children_cpu() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument("--clones", type=int, default=20)
    parser.add_argument("--duration", type=int, default=5, help="wrk seconds per variant")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="tokens-git-bench-"))
    env = configure_environment(workdir)
    import django

    django.setup()
    from django.core.cache import cache

    cache.clear()
    print(f"Preparing a repository of {options.megabytes} MB of text...")
    work = workdir / "work"
    make_commit(work, options.megabytes)
    recreate_database(DATABASE)
    use_database(DATABASE)
    project, username, secret, personal = prepare()
    path, bare = project.full_path, project.repository_path
    git("push", "-q", str(bare), "main", cwd=work)
    plain = f"file://{bare}"
    server, url = start_gunicorn(env, DATABASE)
    host = url.removeprefix("http://")
    site = f"http://{username}:{secret}@{host}/{path}.git"
    import base64

    basic = "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    pusher = workdir / "pusher"
    git("clone", "-q", plain, str(pusher))

    def push_one() -> None:
        (pusher / "pushed.txt").write_text(f"{time.time()}\n")
        git("add", "pushed.txt", cwd=pusher)
        git("commit", "-q", "-m", "pushed during the storm", cwd=pusher)
        git("push", "-q", f"http://bench:{personal}@{host}/{path}.git", "HEAD:main", cwd=pusher)

    figures: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    try:
        for round_number in range(options.rounds + 1):  # round 0 warms up
            keep = round_number > 0
            # (a) info/refs vs the floor.
            floor = wrk(
                f"{url}/-/readiness", authorization=None, duration=options.duration, connections=16
            )
            refs = wrk(
                f"{url}/{path}.git/info/refs?service=git-upload-pack",
                authorization=basic,
                duration=options.duration,
                connections=16,
            )
            # (b) one clone, each way, CPU and wall.
            for name, address in (("file://", plain), ("site", site)):
                server_before = server_cpu(server.pid)
                wall, client = storm([address], workdir / "one")
                time.sleep(0.3)
                cpu = client + (server_cpu(server.pid) - server_before if name == "site" else 0)
                if keep:
                    note(f"clone wall {name}", wall)
                    note(f"clone CPU {name}", cpu)
            # (c) and (d): the storms.
            for label, during in (("storm", None), ("storm + push", push_one)):
                for name, address in (("file://", plain), ("site", site)):
                    server_before = server_cpu(server.pid)
                    wall, client = storm(
                        [address] * options.clones,
                        workdir / "storm",
                        during=during if name == "site" else None,
                    )
                    time.sleep(0.5)  # the workers reap their git processes
                    cpu = client + (server_cpu(server.pid) - server_before if name == "site" else 0)
                    if keep:
                        note(f"{label} wall {name}", wall)
                        note(f"{label} CPU {name}", cpu)
            if keep:
                note("info/refs req/s", refs)
                note("readiness req/s", floor)
    finally:
        server.terminate()
        server.wait()

    median = {name: statistics.median(values) for name, values in figures.items()}
    ratios = {
        "info/refs": median["info/refs req/s"] / median["readiness req/s"],
        "clone": median["clone wall site"] / median["clone wall file://"],
        "clone CPU": median["clone CPU site"] / median["clone CPU file://"],
        "storm CPU": median["storm CPU site"] / median["storm CPU file://"],
        "storm wall": median["storm wall site"] / median["storm wall file://"],
        "storm + push CPU": median["storm + push CPU site"] / median["storm + push CPU file://"],
        "storm + push wall": median["storm + push wall site"] / median["storm + push wall file://"],
    }
    print(f"\nGit over HTTP, {options.megabytes} MB repository, median of {options.rounds} rounds")
    print(f"\n{'measure':36} {'site':>10} {'baseline':>10} {'ratio':>7}  target")
    rows = [
        ("(a) info/refs req/s vs readiness", "info/refs req/s", "readiness req/s", "info/refs"),
        ("(b) one clone, wall s", "clone wall site", "clone wall file://", "clone"),
        ("(b) one clone, CPU s", "clone CPU site", "clone CPU file://", "clone CPU"),
        (f"(c) {options.clones} clones, CPU s", "storm CPU site", "storm CPU file://", "storm CPU"),
        (
            f"(c) {options.clones} clones, wall s",
            "storm wall site",
            "storm wall file://",
            "storm wall",
        ),
        (
            "(d) with a push, CPU s",
            "storm + push CPU site",
            "storm + push CPU file://",
            "storm + push CPU",
        ),
        (
            "(d) with a push, wall s",
            "storm + push wall site",
            "storm + push wall file://",
            "storm + push wall",
        ),
    ]
    for title, site_key, base_key, ratio_key in rows:
        target = TARGETS.get(ratio_key)
        met = ""
        if target:
            sign, value = target
            ok = ratios[ratio_key] >= value if sign == ">=" else ratios[ratio_key] <= value
            met = f"{sign} {value} ({'met' if ok else 'NOT met'})"
        print(
            f"{title:36} {median[site_key]:10.2f} {median[base_key]:10.2f} "
            f"{ratios[ratio_key]:7.2f}  {met}"
        )


if __name__ == "__main__":
    main()
