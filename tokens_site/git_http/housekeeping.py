"""What interrupted pushes leave in the repositories: receive-pack's quarantine directories
(objects/tmp_objdir-incoming-*, the part of a pack received so far). git removes its own
unless it dies of a signal (see backend); these functions find and remove the ones left."""

import logging
import shutil
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# Every repository under REPOSITORIES_ROOT (the hashed layout of repository_relative_path()).
REPOSITORIES_GLOB = "@hashed/*/*/*.git"
QUARANTINE_GLOB = "objects/tmp_objdir-incoming-*"
# A push still running writes into its quarantine all the time; one untouched for an hour is
# left over.
QUARANTINE_MAX_AGE_SECONDS = 3600


def _last_change(directory: Path) -> float:
    """The newest modification time of `directory` and of everything in it."""
    return max(
        (path.lstat().st_mtime for path in (directory, *directory.rglob("*"))),
        default=0.0,
    )


def stale_quarantines(
    root: Path, *, max_age_seconds: int = QUARANTINE_MAX_AGE_SECONDS
) -> list[Path]:
    """Quarantine directories of the repositories under `root` in which nothing has changed
    for `max_age_seconds`."""
    cutoff = time.time() - max_age_seconds
    found = root.glob(f"{REPOSITORIES_GLOB}/{QUARANTINE_GLOB}")
    return sorted(path for path in found if path.is_dir() and _last_change(path) < cutoff)


def quarantine_remove(path: Path) -> bool:
    """Remove one quarantine directory; False (and a warning in the log) if it could not be."""
    try:
        shutil.rmtree(path)
    except OSError as error:
        logger.warning("Could not remove %s: %s", path, error)
        return False
    return True
