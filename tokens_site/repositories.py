"""Bare git repositories on disk, one per project."""

import shutil
import subprocess
from pathlib import Path

GIT_TIMEOUT_SECONDS = 30


class RepositoryError(Exception):
    pass


def repository_create(path: Path) -> None:
    """Create an empty bare repository with `main` as its default branch."""
    if path.exists():
        raise RepositoryError(f"A repository already exists at {path}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--bare", "--quiet", "--initial-branch=main", str(path)],
            check=True,
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
        )
        # Pushes arrive through `git http-backend`, which serves receive-pack only when the
        # repository allows it; our authentication layer decides who may push.
        subprocess.run(
            ["git", "config", "--file", str(path / "config"), "http.receivepack", "true"],
            check=True,
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.SubprocessError) as error:
        shutil.rmtree(path, ignore_errors=True)
        raise RepositoryError(f"Could not create the repository at {path}: {error}") from error


def repository_remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
