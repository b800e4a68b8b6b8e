"""Sample log lines go into pages (Slack, e-mail, SMS): clean them of secrets first.

Redacted: bearer/basic credentials, `key=value` / `"key": "value"` pairs whose key
names a secret (token, password, api_key, authorization, cookie, ...), query-string
secrets, JWTs, well-known token shapes (OpenAI/Anthropic `sk-`, Slack `xox?-`,
GitHub `ghp_`, AWS `AKIA`, Stripe `sk_live_`, Supabase `sb_secret_`/`sbp_`) and
e-mail addresses. Request ids and paths stay: they are how on-call finds the line.
"""

from __future__ import annotations

import re

_SECRET_KEYS = (
    r"authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[_-]?key|apikey|"
    r"access[_-]?token|refresh[_-]?token|id[_-]?token|token|secret|client[_-]?secret|"
    r"password|passwd|pwd|private[_-]?key|signature|session"
)
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), "[jwt]"),
    (re.compile(rf"(?i)([\"']?\b(?:{_SECRET_KEYS})\b[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&\"'}}]+)"),
     r"\1[redacted]"),
    (re.compile(r"(?i)([?&](?:token|access_token|api_key|apikey|key|secret|sig|signature|s|password|"
                r"code|auth|jwt|session)=)[^&\s\"'#]+"), r"\1[redacted]"),
    (re.compile(r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|xox[abprs]-[A-Za-z0-9-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|"
                r"AKIA[0-9A-Z]{16}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|sb_secret_[A-Za-z0-9_-]{10,}|"
                r"sbp_[A-Za-z0-9]{20,})\b"), "[redacted]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[email]"),
]


def redact(text: str, limit: int = 300) -> str:
    """The text with secrets and e-mail addresses replaced, on one line, at most `limit` characters."""
    out = " ".join(text.split())
    for pattern, repl in _RULES:
        out = pattern.sub(repl, out)
    return out if len(out) <= limit else out[: limit - 1] + "…"
