"""Secrets out of text that osla shows: tokens (headers, Fernet), passwords, credentials in URLs.

Old OpenStack logs print token headers (keystoneclient/neutronclient DEBUG lines) and config
dumps print passwords; findings, triage and reports pass their example lines through
:func:`redact` before anything leaves osla.
"""
from __future__ import annotations

import re

MASK = "***"
# (pattern, replacement, triggers): a pattern runs only on a text whose casefolded form holds one
# of its triggers (the others cannot match it); most log lines hold none, and the password pattern
# costs tens of microseconds on any line.
_RULES = [
    # X-Auth-Token: abc / 'X-Auth-Token': 'abc' / "X-Subject-Token": "abc" / x-service-token
    (re.compile(r"""(?i)(x-(?:auth|subject|service)-token['"]?\s*[:=]\s*['"]?)(?!\*|\{SHA)[^\s'",}]+"""), r"\1" + MASK,
     ("-token",)),
    # password=..., "password": "...", admin_password = ..., secret/token keys in JSON or key=value
    (re.compile(r"""(?i)((?:["']?\w*(?:password|passwd|secret|auth_token|api_key|token_key)["']?)\s*[:=]\s*['"]?)"""
                r"""(?!\*)[^\s'",}&]+"""), r"\1" + MASK,
     ("password", "passwd", "secret", "auth_token", "_key")),  # no 'i': re.I also takes 'ı' and 'İ' for it
    # scheme://user:password@host (transport_url, connection strings)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s/]+@", re.I), r"\1" + MASK + "@", ("://",)),
    # Fernet tokens (keystone's, and any Fernet ciphertext): version byte 0x80 -> 'gAAAAA' in base64url
    (re.compile(r"\bgAAAAA[\w-]{20,}=*"), MASK, ("gaaaaa",)),
    # {SHA1}... token hashes keystonemiddleware prints
    (re.compile(r"(\{SHA\d*\})[0-9a-f]{16,}", re.I), r"\1" + MASK, ("{sha",)),
]


def redact(text: str | None) -> str | None:
    if not text:
        return text
    folded = text.casefold()
    for pattern, replacement, triggers in _RULES:
        if any(trigger in folded for trigger in triggers):
            text = pattern.sub(replacement, text)
            folded = text.casefold()
    return text
