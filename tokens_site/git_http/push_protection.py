"""Secret push protection, the site's side (issue 17): what a push needs for the hook
(tokens_site/git_http/pre_receive.py, which scans the pushed blobs and refuses a push holding
secrets), and what happens after it: its report becomes audit events. A refusal is one event on
the project with every find (masked) and, for each find that is one of this instance's tokens,
a `token.leak_find` event on that token; a skip (`git push -o secret_push_protection.skip_all`)
is one event on the project.

Instance settings turn the scan off and add other services' secrets to it.
"""

import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import translation

from tokens_site.audit import audit_event_record
from tokens_site.models import AuditAction, InstanceSettings
from tokens_site.token_inventory import record_find, with_digests

logger = logging.getLogger(__name__)

HOOKS_DIRECTORY = Path(__file__).resolve().parent / "hooks"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # what the hook imports tokens_site from


@dataclass
class PushProtection:
    """One push's hook set-up: git configuration and environment, and the report file."""

    third_party: bool
    report: Path

    @classmethod
    def for_push(cls, instance: InstanceSettings) -> "PushProtection | None":
        """None when the instance has push protection off."""
        if not instance.secret_push_protection_enabled:
            return None
        handle, name = tempfile.mkstemp(prefix="push-report-", suffix=".json")
        os.close(handle)
        return cls(third_party=instance.secret_push_protection_third_party, report=Path(name))

    @property
    def config(self) -> dict[str, str]:
        return {"core.hooksPath": str(HOOKS_DIRECTORY)}

    @property
    def environment(self) -> dict[str, str]:
        return {
            "TOKENS_HOOK_PYTHON": sys.executable,
            "PYTHONPATH": str(PROJECT_ROOT),
            "TOKENS_PUSH_REPORT": str(self.report),
            "TOKENS_PUSH_THIRD_PARTY": "1" if self.third_party else "0",
            # The hook reports our tokens by their stored digests, never their values.
            "TOKENS_DIGEST_KEY": settings.TOKEN_DIGEST_KEY,
            # Its refusal in this answer's language, from the compiled catalogues.
            "TOKENS_LANGUAGE": translation.to_locale(translation.get_language() or "en"),
            "TOKENS_LOCALE_DIR": str(settings.LOCALE_PATHS[0]),
        }

    def record(self, *, project, principal, ip_address: str | None) -> None:
        """Audit what the hook reported (nothing if the push never reached it), then forget
        the report."""
        try:
            text = self.report.read_text(encoding="utf-8")
            self.report.unlink()
        except OSError as error:
            logger.warning("The push protection report could not be read: %r", error)
            return
        if not text:
            return
        try:
            report = json.loads(text)
        except ValueError:
            logger.warning("The push protection report is not JSON: %.200r", text)
            return
        record_report(report, project=project, principal=principal, ip_address=ip_address)


def record_report(report: dict, *, project, principal, ip_address: str | None) -> None:
    actor = principal.user
    common = {"refs": report.get("refs", []), "pushed_by": principal.username}
    if report.get("error"):
        logger.error("Secret push protection failed on %s: %s", project, report["error"])
        return
    if report.get("skipped"):
        audit_event_record(
            action=AuditAction.SECRET_PUSH_PROTECTION_SKIP,
            actor=actor,
            target=project,
            ip_address=ip_address,
            details=common,
        )
        return
    findings = report.get("findings", [])
    audit_event_record(
        action=AuditAction.SECRET_PUSH_PROTECTION_BLOCK,
        actor=actor,
        target=project,
        ip_address=ip_address,
        details={
            **common,
            "findings": [
                {key: item.get(key) for key in ("commit", "path", "line", "kind", "masked")}
                for item in findings
            ],
        },
    )
    _record_finds(findings, project=project, actor=actor, ip_address=ip_address)


def _record_finds(findings: list[dict], *, project, actor, ip_address: str | None) -> None:
    """A `token.leak_find` event on each of this instance's tokens the push held."""
    digests = {item["digest"] for item in findings if isinstance(item.get("digest"), str)}
    if not digests:
        return
    where = f"a push to {project.full_path}"
    for record in with_digests(digests):
        record_find(record, actor=actor, where=where, ip_address=ip_address)
