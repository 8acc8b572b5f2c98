"""The shapes of the codes: a TOTP code is TOTP_DIGITS digits; a recovery code is
RECOVERY_CODE_LENGTH lowercase hex characters (GitLab's shape), which may be typed in upper
case, with spaces or hyphens. Anything else is malformed and never reaches a lookup."""

import re
import secrets

TOTP_DIGITS = 6
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 16
# Longer input is refused by the forms before it is looked at.
MAX_CODE_INPUT = 64

_TOTP = re.compile(rf"\d{{{TOTP_DIGITS}}}")
_RECOVERY = re.compile(rf"[0-9a-f]{{{RECOVERY_CODE_LENGTH}}}")
_SEPARATORS = re.compile(r"[\s-]")


def normalize(code: str) -> str:
    return _SEPARATORS.sub("", code).lower()


def is_totp_code(code: str) -> bool:
    return bool(_TOTP.fullmatch(code))


def is_recovery_code(code: str) -> bool:
    return bool(_RECOVERY.fullmatch(code))


def recovery_code_generate() -> str:
    return secrets.token_hex(RECOVERY_CODE_LENGTH // 2)
