"""Secret push protection: the pre-receive hook git runs before it accepts a push (issue 17).

Git starts `hooks/pre-receive` (tokens_site/git_http/hooks, set as core.hooksPath by
tokens_site.git_http.push_protection for each push) with the pushed objects still in quarantine
and the ref updates on stdin. This module is that hook: it lists the objects the push adds (those
reachable from the new ref values and not from any existing ref), reads each blob of at most
1 MiB that is not binary (a NUL byte in its first 8000 bytes, as git decides), and scans it for
this instance's tokens (tokens_site.token_scan, checksum verified) and, when the instance says
so, other services' secrets. A find refuses the whole push with `remote:` lines naming the
commit, the file and line, and the kind of secret, masked. A revoked or expired token is still
refused: it is still a secret, and the hook does not look it up.

`git push -o secret_push_protection.skip_all` skips the scan, as GitLab's push option does. What
happened (a refusal with its finds, or a skip) is written as JSON to the file TOKENS_PUSH_REPORT
names; the site reads it when git has finished and records the audit events. The finds carry
the keyed digest of each of our tokens (TOKENS_DIGEST_KEY), never the value, so the site can
tell which token was pushed.

It runs without Django (a process per push must start in milliseconds: it imports only
token_scan and token_format). Our own code: no maintained secret scanner knows our checksum,
and the hook's protocol is git's own.
"""

import contextlib
import gettext
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from tokens_site.token_format import digest
from tokens_site.token_scan import Found, scan

SKIP_OPTION = "secret_push_protection.skip_all"

# The refusal in the language the site passes (TOKENS_LANGUAGE), from the site's compiled
# catalogues (TOKENS_LOCALE_DIR) through the standard library: English when either is missing.
_translation = gettext.translation(
    "django",
    localedir=os.environ.get("TOKENS_LOCALE_DIR") or None,
    languages=[os.environ.get("TOKENS_LANGUAGE") or "en"],
    fallback=True,
)


def _(message: str) -> str:
    return _translation.gettext(message)


BLOB_MAX_BYTES = 1024 * 1024  # larger blobs are not scanned
BINARY_SNIFF_BYTES = 8000  # a NUL byte among these: binary, not scanned (as git decides)
SHOWN_MAX = 50  # finds listed in the refusal; the rest are counted
READERS = 2  # git cat-file processes reading the blobs at once


@dataclass
class Finding:
    commit: str
    oid: str
    path: str
    found: Found

    def as_report(self, key: str) -> dict:
        item = {
            "commit": self.commit,
            "path": self.path,
            "line": self.found.line,
            "kind": self.found.kind,
            "masked": self.found.masked,
        }
        if not self.found.third_party and key:
            item["digest"] = digest(self.found.value, key)
        return item


def push_options() -> list[str]:
    """The `git push -o` values (git passes them when receive.advertisePushOptions is on)."""
    count = int(os.environ.get("GIT_PUSH_OPTION_COUNT") or 0)
    return [os.environ.get(f"GIT_PUSH_OPTION_{index}", "") for index in range(count)]


def added_objects(new_values: list[str]) -> Iterator[tuple[str, str, str]]:
    """(commit, object, path) for every tree and blob the push adds, each with the earliest
    pushed commit that holds it (rev-list in commit order, oldest first)."""
    process = subprocess.Popen(
        [
            *("git", "rev-list", "--objects", "--in-commit-order", "--reverse"),
            *("--stdin", "--not", "--all"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    _feed(process, "".join(f"{value}\n" for value in new_values))
    commit = ""
    for raw in process.stdout:
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        oid, space, path = line.partition(" ")
        if not space:
            commit = oid  # a commit has no path; a tree or blob has one (the root tree "")
        elif path:
            yield commit, oid, path
    _wait(process)


def blobs_to_scan(objects: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The objects that are blobs of at most BLOB_MAX_BYTES."""
    if not objects:
        return []
    process = subprocess.Popen(
        ["git", "cat-file", "--batch-check=%(objecttype) %(objectsize)"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    _feed(process, "".join(f"{oid}\n" for _commit, oid, _path in objects))
    wanted = []
    for item, raw in zip(objects, process.stdout, strict=False):
        kind, _, size = raw.decode().partition(" ")
        if kind == "blob" and int(size) <= BLOB_MAX_BYTES:
            wanted.append(item)
    _wait(process)
    return wanted


def scan_push(new_values: list[str], *, third_party: bool) -> list[Finding]:
    """The finds in the blobs the push adds, in the order git lists them. The blobs are read
    by READERS `git cat-file` processes at once (inflating them is most of the work; the
    scan itself is a regular expression), each on its share of the list."""
    blobs = blobs_to_scan(list(added_objects(new_values)))
    shares = [blobs[index::READERS] for index in range(READERS)]
    results: list[list[Finding]] = [[] for _ in shares]
    errors: list[BaseException] = []

    def read(index: int) -> None:
        try:
            results[index] = _scan_blobs(shares[index], third_party=third_party)
        except Exception as error:  # raised again by the caller
            errors.append(error)

    threads = [
        threading.Thread(target=read, args=(index,)) for index, share in enumerate(shares) if share
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    order = {oid: position for position, (_commit, oid, _path) in enumerate(blobs)}
    return sorted(
        (finding for result in results for finding in result),
        key=lambda finding: (order[finding.oid], finding.found.line),
    )


def _scan_blobs(blobs: list[tuple[str, str, str]], *, third_party: bool) -> list[Finding]:
    process = subprocess.Popen(
        ["git", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    _feed(process, "".join(f"{oid}\n" for _commit, oid, _path in blobs))
    findings = []
    for commit, oid, path in blobs:
        header = process.stdout.readline().split()
        content = process.stdout.read(int(header[2]) + 1)[:-1]  # and the newline after it
        if b"\0" in content[:BINARY_SNIFF_BYTES]:
            continue
        # latin-1 maps each byte to one character: tokens (ASCII) and line numbers come out as
        # in the bytes, whatever the file's encoding, at the cost of a copy.
        for found in scan(content.decode("latin-1"), third_party=third_party):
            findings.append(Finding(commit=commit, oid=oid, path=path, found=found))
    _wait(process)
    return findings


def _feed(process: subprocess.Popen, text: str) -> None:
    """Write `text` to the process's stdin from a thread (its output is read meanwhile)."""

    def write() -> None:
        with contextlib.suppress(BrokenPipeError):
            try:
                process.stdin.write(text.encode("utf-8", "surrogateescape"))
            finally:
                process.stdin.close()

    threading.Thread(target=write, daemon=True).start()


def _wait(process: subprocess.Popen) -> None:
    if process.wait() != 0:
        raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")


def refusal(findings: list[Finding]) -> list[str]:
    """The lines git shows as `remote:` lines, GitLab's wording, one block per commit."""
    lines = [_("PUSH BLOCKED: Secrets detected in code changes")]
    by_commit: dict[str, list[Finding]] = {}
    for finding in findings[:SHOWN_MAX]:
        by_commit.setdefault(finding.commit, []).append(finding)
    for commit, items in by_commit.items():
        found_in = _("Secret push protection found the following secrets in commit: %(commit)s")
        lines += ["", found_in % {"commit": commit}]
        lines += [""] + [
            f"-- {item.path}:{item.found.line} {item.found.kind} ({item.found.masked})"
            for item in items
        ]
    if len(findings) > SHOWN_MAX:
        lines += ["", _("... and %(count)s more.") % {"count": len(findings) - SHOWN_MAX}]
    return [
        *lines,
        "",
        _("To push your changes you must remove the identified secrets."),
        _("A token that was committed should be revoked, even if the push never landed."),
        _("If these are not secrets, push again with: git push -o %(option)s")
        % {"option": SKIP_OPTION},
        _("(the skip is recorded in the audit log)."),
    ]


def _report(content: dict) -> None:
    path = os.environ.get("TOKENS_PUSH_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(content, file)


def _say(lines: list[str]) -> None:
    sys.stderr.write("".join(f"{line}\n" for line in lines))
    sys.stderr.flush()


def main() -> int:
    updates = [line.split() for line in sys.stdin if line.strip()]
    refs = [update[2] for update in updates]
    new_values = [update[1] for update in updates if set(update[1]) != {"0"}]
    if SKIP_OPTION in push_options():
        _report({"skipped": True, "refs": refs})
        skipped = _("Secret push protection skipped (%(option)s): recorded in the audit log.")
        _say([skipped % {"option": SKIP_OPTION}])
        return 0
    try:
        findings = scan_push(
            new_values, third_party=os.environ.get("TOKENS_PUSH_THIRD_PARTY") == "1"
        )
    except (OSError, RuntimeError, ValueError, IndexError) as error:
        # Refuse rather than let a push through unscanned; the site logs the reason.
        _report({"error": repr(error), "refs": refs})
        _say(
            [
                _(
                    "Secret push protection could not scan this push; try again, or ask an "
                    "administrator."
                )
            ]
        )
        return 1
    if not findings:
        return 0
    key = os.environ.get("TOKENS_DIGEST_KEY", "")
    _report({"refs": refs, "findings": [finding.as_report(key) for finding in findings]})
    _say(refusal(findings))
    return 1


if __name__ == "__main__":
    sys.exit(main())
