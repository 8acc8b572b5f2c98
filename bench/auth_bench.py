#!/usr/bin/env python
"""Benchmark of the authentication layer: what checking a credential costs per request.

Serves the site under gunicorn on loopback with PostgreSQL and Redis (the shared cache,
database 15), drives it with `wrk`, and prints requests per second of one trivial endpoint in
five variants, as ratios:

  1. /-/liveness     unprotected, no query
  2. /-/readiness    unprotected, one primary-key query: the floor for any revocable token
  3. /-/whoami       with a deploy token
  4. /-/whoami       with a personal access token
  5. /-/whoami       with a user's password over Basic (PBKDF2), through bench/urls.py
  6. /api/v4/user    the REST API (Django REST framework) with a personal access token

and the personal token lookup with 1,000 and with 1,000,000 tokens in the table. The two
sizes live in two databases (`tokens_bench_small`, `tokens_bench_large`) served by two
servers, measured in the same interleaved rounds, so neither gets a warmer machine.

    apt-get install wrk
    .venv/bin/python bench/auth_bench.py [--duration 5] [--rounds 5] [--tokens 1000000]

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
PG = "postgres://postgres@127.0.0.1:5432"
SMALL, LARGE = "tokens_bench_small", "tokens_bench_large"
SMALL_TABLE = 1_000
# The targets, printed beside the figures (nothing is asserted).
TARGET_FLOOR_RATIO = 0.75
TARGET_PASSWORD_RATIO = 150
TARGET_TABLE_RATIO = 1.1


def configure_environment(workdir: Path) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "ENV_FILE": "",
        "DEBUG": "off",
        "HTTPS": "off",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_DIGEST_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"{PG}/{SMALL}",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "REPOSITORIES_ROOT": str(workdir / "repositories"),
        "MEDIA_ROOT": str(workdir / "media"),
        "REGISTRY_SIGNING_KEY": str(workdir / "registry-signing-key.pem"),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return {**os.environ, **env}


def recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")


def use_database(name: str) -> None:
    """Point this process's default connection at another database (and the repositories
    at that database's own directory)."""
    from django.conf import settings
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name
    settings.REPOSITORIES_ROOT = repositories_root(name)


def repositories_root(database: str) -> Path:
    return Path(os.environ["REPOSITORIES_ROOT"]) / database


def prepare_data(tokens: int) -> dict[str, str]:
    """In the current database: a user with a password, one of their personal tokens, a
    project deploy token, and `tokens` personal tokens in all."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from deploy_tokens.services import deploy_token_create
    from personal_tokens.services import personal_token_create
    from tokens_site.services import group_create, project_create

    call_command("migrate", verbosity=0)
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
    add_personal_tokens(user.pk, tokens - 1)
    return {
        "deploy": basic(deploy.username, deploy_value),
        "personal": basic("bench", personal_value),
        "password": basic("bench", password),
        "personal_value": personal_value,
    }


def add_personal_tokens(user_id: int, count: int) -> None:
    """Filler rows with unique digests, written by PostgreSQL itself (fast)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO personal_tokens_personalaccesstoken
                (user_id, name, description, scopes, token_digest, revoked, created_at,
                 last_used_ips)
            SELECT %s, 'filler', '', 'read_api',
                   encode(sha256(('filler-' || n)::bytea), 'hex'), false, now(), '[]'::jsonb
            FROM generate_series(%s, %s) AS n
            """,
            [user_id, 1, count],
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


def start_gunicorn(env: dict[str, str], database: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **env,
        "DATABASE_URL": f"{PG}/{database}",
        "REPOSITORIES_ROOT": str(repositories_root(database)),
    }
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
            return process, f"http://127.0.0.1:{port}"
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


def lookup_seconds(values: dict[str, str], rounds: int = 21, per_batch: int = 1000):
    """Time of the personal token lookup alone (one query), in process, for each database
    (name -> token), in alternating batches over one open connection to each (a new
    connection would start a cold server process): each database's fastest batch mean, the
    least disturbed by the machine's other work."""
    from django.db import DEFAULT_DB_ALIAS, connections

    from personal_tokens.selectors import personal_token_find_active

    default = connections[DEFAULT_DB_ALIAS]
    wrappers = {}
    for database in values:
        connections.settings[database] = {**default.settings_dict, "NAME": database}
        wrappers[database] = connections.create_connection(database)
    best = dict.fromkeys(values, float("inf"))
    try:
        for database, value in values.items():  # connect, prepare, warm each server process
            connections[DEFAULT_DB_ALIAS] = wrappers[database]
            for _ in range(per_batch):
                personal_token_find_active(value)
        for _ in range(rounds):
            for database, value in values.items():
                connections[DEFAULT_DB_ALIAS] = wrappers[database]
                started = time.perf_counter()
                for _ in range(per_batch):
                    if personal_token_find_active(value) is None:
                        raise SystemExit("the benchmark's token stopped authenticating")
                elapsed = (time.perf_counter() - started) / per_batch
                best[database] = min(best[database], elapsed)
    finally:
        connections[DEFAULT_DB_ALIAS] = default
        for wrapper in wrappers.values():
            wrapper.close()
    return best


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


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
    import django

    django.setup()
    from django.core.cache import cache

    cache.clear()
    credentials = {}
    for database, tokens in ((SMALL, SMALL_TABLE), (LARGE, options.tokens)):
        print(f"Preparing {database} with {tokens:,} personal tokens...")
        recreate_database(database)
        use_database(database)
        credentials[database] = prepare_data(tokens)
    servers = {database: start_gunicorn(env, database) for database in (SMALL, LARGE)}
    small, large = servers[SMALL][1], servers[LARGE][1]
    run = {"duration": options.duration, "connections": options.connections}
    try:
        print(
            f"\ngunicorn (tokens_site/gunicorn.conf.py) on loopback, PostgreSQL + Redis; "
            f"wrk -c{options.connections} -d{options.duration}s, best of {options.rounds} "
            f"interleaved rounds\n"
        )
        variants = {
            "liveness (no query)": (f"{small}/-/liveness", None),
            "readiness (1 query: the floor)": (f"{small}/-/readiness", None),
            "whoami, deploy token": (f"{small}/-/whoami", credentials[SMALL]["deploy"]),
            "whoami, personal token": (f"{small}/-/whoami", credentials[SMALL]["personal"]),
            "large table": (f"{large}/-/whoami", credentials[LARGE]["personal"]),
            "api /user, personal token": (
                f"{small}/api/v4/user",
                f"Bearer {credentials[SMALL]['personal_value']}",
            ),
        }
        # Interleaved rounds, best of each: the machine's other load, and wrk's keep-alive
        # connections landing unevenly on the two workers, only ever lower a figure.
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(options.rounds):
            for name, (url, authorization) in variants.items():
                samples[name].append(wrk(url, authorization=authorization, **run))
        figures = {name: max(values) for name, values in samples.items()}
        large_rps = figures.pop("large table")
        # Last and alone: each request hashes for a good part of a second, and requests still
        # queued when wrk stops would slow whatever ran next.
        figures["whoami, password (Basic)"] = wrk(
            f"{small}/-/bench/whoami-password",
            authorization=credentials[SMALL]["password"],
            duration=options.duration * options.rounds,
            connections=2,
        )
        floor = figures["readiness (1 query: the floor)"]
        password = figures["whoami, password (Basic)"]
        print(f"{'variant':34} {'req/s':>10} {'x floor':>9} {'x password':>11}")
        for name, rps in figures.items():
            print(f"{name:34} {rps:10.1f} {rps / floor:9.2f} {rps / password:11.1f}")

        lookups = lookup_seconds(
            {database: credentials[database]["personal_value"] for database in (SMALL, LARGE)}
        )
        small_rps = figures["whoami, personal token"]
        print(f"\n{'personal token table':34} {'req/s':>10} {'lookup (ms)':>12}")
        print(f"{SMALL_TABLE:>34,} {small_rps:10.1f} {lookups[SMALL] * 1000:12.3f}")
        print(f"{options.tokens:>34,} {large_rps:10.1f} {lookups[LARGE] * 1000:12.3f}")
        rps_spread = max(small_rps, large_rps) / min(small_rps, large_rps)
        lookup_spread = max(lookups.values()) / min(lookups.values())
        print(f"{'spread (larger / smaller)':34} {rps_spread:10.2f} {lookup_spread:12.2f}")

        token_ratio = min(figures["whoami, deploy token"], small_rps) / floor
        password_ratio = min(figures["whoami, deploy token"], small_rps) / password
        print("\nTargets:")
        print(
            f"  token-protected >= {TARGET_FLOOR_RATIO} x floor: {token_ratio:.2f} "
            f"({verdict(token_ratio >= TARGET_FLOOR_RATIO)})"
        )
        print(
            f"  token-protected >= {TARGET_PASSWORD_RATIO} x password: {password_ratio:.0f} "
            f"({verdict(password_ratio >= TARGET_PASSWORD_RATIO)})"
        )
        spread = max(rps_spread, lookup_spread)
        print(
            f"  {options.tokens:,} tokens within {TARGET_TABLE_RATIO} x of {SMALL_TABLE:,}: "
            f"{spread:.2f} ({verdict(spread <= TARGET_TABLE_RATIO)})"
        )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=15)
        from django.db import connections

        connections.close_all()
        for database in (SMALL, LARGE):
            recreate_database(database)  # leave empty databases behind, not a million rows
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
