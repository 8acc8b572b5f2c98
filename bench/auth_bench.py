#!/usr/bin/env python
"""Benchmark of the authentication layer: what checking a credential costs per request.

Serves the site under gunicorn on loopback with PostgreSQL (a fresh database, `tokens_bench`)
and Redis (the shared cache, database 15), drives it with `wrk`, and prints requests per second
of one trivial endpoint in five variants, as ratios:

  1. /-/liveness     unprotected, no query
  2. /-/readiness    unprotected, one primary-key query: the floor for any revocable token
  3. /-/whoami       with a deploy token
  4. /-/whoami       with a personal access token
  5. /-/whoami       with a user's password over Basic (PBKDF2)

Then it grows the personal access token table from 1,000 to 1,000,000 rows and measures the
token lookup again (requests per second, and the lookup alone, in process).

    apt-get install wrk
    .venv/bin/python bench/auth_bench.py [--duration 10] [--connections 8] [--tokens 1000000]

Figures vary with the machine; the ratios are what to compare. Nothing here is a test.
"""

import argparse
import base64
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
DATABASE = "tokens_bench"
PG = "postgres://postgres@127.0.0.1:5432"
SMALL_TABLE = 1_000


def configure_environment(workdir: Path) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "tokens_site.settings",
        "ENV_FILE": "",
        "DEBUG": "off",
        "HTTPS": "off",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_DIGEST_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "REPOSITORIES_ROOT": str(workdir / "repositories"),
        "MEDIA_ROOT": str(workdir / "media"),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def prepare_data() -> dict[str, str]:
    """A user with a password, one of their personal tokens, a project deploy token, and
    SMALL_TABLE personal tokens in all."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command

    from deploy_tokens.services import deploy_token_create
    from personal_tokens.services import personal_token_create
    from tokens_site.services import group_create, project_create

    call_command("migrate", verbosity=0)
    cache.clear()
    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.create_user("bench", "bench@example.com", password)
    group = group_create(actor=user, name="Bench", path="bench")
    project = project_create(actor=user, group=group, name="App", path="app")
    deploy, deploy_value = deploy_token_create(
        actor=user, owner=project, name="bench", scopes=["read_repository"]
    )
    _, personal_value = personal_token_create(
        actor=user, user=user, name="bench", scopes=["read_api"]
    )
    add_personal_tokens(user.pk, SMALL_TABLE - 1, start=0)
    return {
        "deploy": basic(deploy.username, deploy_value),
        "personal": basic("bench", personal_value),
        "password": basic("bench", password),
        "personal_value": personal_value,
    }


def add_personal_tokens(user_id: int, count: int, *, start: int) -> None:
    """Filler rows with unique digests, written by PostgreSQL itself (fast)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO personal_tokens_personalaccesstoken
                (user_id, name, scopes, token_digest, revoked, created_at)
            SELECT %s, 'filler', 'read_api',
                   encode(sha256(('filler-' || n)::bytea), 'hex'), false, now()
            FROM generate_series(%s, %s) AS n
            """,
            [user_id, start + 1, start + count],
        )
        # Settle the table now, so no autovacuum or checkpoint runs during the measurements.
        cursor.execute("VACUUM (ANALYZE) personal_tokens_personalaccesstoken")
        cursor.execute("CHECKPOINT")


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "tokens_site/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
            # The README's server: 2 workers. wrk's keep-alive connections land on them
            # unevenly, so each variant runs several times, interleaved, with many connections.
            "--workers",
            "2",
            "tokens_site.wsgi",
        ],
        cwd=BASE_DIR,
        env=env,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/liveness", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def wrk(url: str, *, authorization: str | None, duration: int, connections: int) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if authorization:
        command += ["-H", f"Authorization: {authorization}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"{url}: {non_2xx.group(1)} failed responses\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def lookup_seconds(value: str, batches: int = 7, per_batch: int = 1000) -> float:
    """Time of the personal token lookup alone (one query), in process: the fastest batch's
    mean, the least disturbed by the machine's other work."""
    from personal_tokens.selectors import personal_token_authenticate

    personal_token_authenticate(value)
    best = float("inf")
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(per_batch):
            if personal_token_authenticate(value) is None:
                raise SystemExit("the benchmark's token stopped authenticating")
        best = min(best, (time.perf_counter() - started) / per_batch)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="best of this many rounds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=1_000_000, help="the large table")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="tokens-bench-"))
    env = configure_environment(workdir)
    sys.path.insert(0, str(BASE_DIR))
    recreate_database()
    import django

    django.setup()
    credentials = prepare_data()
    port = free_port()
    server = start_gunicorn(env, port)
    base = f"http://127.0.0.1:{port}"
    run = {"duration": options.duration, "connections": options.connections}
    try:
        print(
            f"gunicorn (tokens_site/gunicorn.conf.py) on loopback, PostgreSQL + Redis; "
            f"wrk -c{options.connections} -d{options.duration}s, best of {options.rounds} "
            f"interleaved rounds\n"
        )
        variants = {
            "liveness (no query)": ("/-/liveness", None),
            "readiness (1 query: the floor)": ("/-/readiness", None),
            "whoami, deploy token": ("/-/whoami", credentials["deploy"]),
            "whoami, personal token": ("/-/whoami", credentials["personal"]),
        }
        # Interleaved rounds, best of each: the machine's other load, and wrk's keep-alive
        # connections landing unevenly on the two workers, only ever lower a figure.
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(options.rounds):
            for name, (path, authorization) in variants.items():
                samples[name].append(wrk(f"{base}{path}", authorization=authorization, **run))
        figures = {name: max(values) for name, values in samples.items()}
        # Last and alone: each request hashes for a good part of a second, and requests still
        # queued when wrk stops would slow whatever ran next.
        figures["whoami, password (Basic)"] = wrk(
            f"{base}/-/whoami",
            authorization=credentials["password"],
            duration=options.duration * options.rounds,
            connections=2,
        )
        floor = figures["readiness (1 query: the floor)"]
        password = figures["whoami, password (Basic)"]
        print(f"{'variant':34} {'req/s':>10} {'x floor':>9} {'x password':>11}")
        for name, rps in figures.items():
            print(f"{name:34} {rps:10.1f} {rps / floor:9.2f} {rps / password:11.1f}")

        small_rps = figures["whoami, personal token"]
        small_lookup = lookup_seconds(credentials["personal_value"])
        from django.contrib.auth import get_user_model

        user_id = get_user_model().objects.get(username="bench").pk
        print(f"\nGrowing the personal token table to {options.tokens:,} rows...")
        add_personal_tokens(user_id, options.tokens - SMALL_TABLE, start=SMALL_TABLE)
        large_rps = max(
            wrk(f"{base}/-/whoami", authorization=credentials["personal"], **run)
            for _ in range(options.rounds)
        )
        large_lookup = lookup_seconds(credentials["personal_value"])
        print(f"{'personal token table':34} {'req/s':>10} {'lookup (ms)':>12}")
        print(f"{SMALL_TABLE:>34,} {small_rps:10.1f} {small_lookup * 1000:12.3f}")
        print(f"{options.tokens:>34,} {large_rps:10.1f} {large_lookup * 1000:12.3f}")
        print(
            f"{'ratio (small / large)':34} {small_rps / large_rps:10.2f} "
            f"{large_lookup / small_lookup:12.2f}"
        )
    finally:
        server.terminate()
        server.wait(timeout=15)
        from django.db import connections

        connections.close_all()
        recreate_database()  # leave an empty database behind, not a million rows
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
