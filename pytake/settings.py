"""Typed settings read from ``PYTAKE_*`` environment variables and ``.env``.

Every problem is reported as one line naming the variable, so an operator can fix a
deployment without reading a traceback.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import secrets
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PYTAKE_"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)
MIN_SECRET_KEY_LENGTH = 32
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?")


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    database_url: str = "sqlite:///pytake.db"
    database_pool_size: int = Field(default=15, ge=1, le=200)  # PostgreSQL, per process
    redis_url: str | None = None
    # Redis connections one process opens at most, Reflex's included in a web worker
    # (pytake.redisio.share); managed Redis plans cap connections per database.
    redis_max_connections: int = Field(default=60, ge=12, le=10000)
    secret_key: str | None = None
    data_dir: Path = Path("data")
    graph_api_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v26.0"
    host: str = "0.0.0.0"  # noqa: S104 (a server, reached through a proxy or the LAN)
    port: int = Field(default=3000, ge=1, le=65535)
    public_url: str | None = None
    workers: int | None = Field(default=None, ge=1, le=32)
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10)
    session_hours: int = Field(default=168, ge=1, le=24 * 90)
    login_max_failures_per_account: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_ip: int = Field(default=20, ge=1, le=10000)
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Inbound pipeline: webhooks, their processing and media downloads.
    webhook_max_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    # A webhook waits at most this long to be stored, then answers 503 (Meta retries).
    webhook_store_seconds: float = Field(default=5.0, ge=0.5, le=60.0)
    # Processed webhook bodies hold customers' messages too; they are deleted after this.
    webhook_retention_days: int = Field(default=30, ge=1, le=3650)
    run_workers: bool = True
    # `python -m pytake run`'s job processes (production mode); unset: one per core.
    job_processes: int | None = Field(default=None, ge=0, le=32)
    # How much `python -m pytake worker` yields the CPU to web processes on the same host.
    # Not at all by default: with agents online the web workers keep every core busy pushing
    # changes, and a job process at a lower priority then starved; the changes it applies
    # are what the tabs wait for (docs/live-core.md).
    worker_nice: int = Field(default=0, ge=0, le=19)
    job_max_attempts: int = Field(default=8, ge=1, le=100)
    media_dir: Path | None = None
    media_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, le=2 * 1024 * 1024 * 1024)
    media_hosts: str = "lookaside.fbsbx.com"
    # Outbound: messages to one customer per window (Meta's pair limit averages one per 6 s
    # and allows short bursts); a channel's config may override both.
    pair_limit: int = Field(default=10, ge=1, le=1000)
    pair_window_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Invitations to join an organization, and the SMTP server that e-mails them (without
    # one, the admin copies the link).
    invitation_hours: int = Field(default=72, ge=1, le=720)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout: float = Field(default=15.0, gt=0, le=300)
    # Web Push: the push services browsers' subscriptions may point at (host names, "*.domain",
    # or a whole origin such as http://10.0.0.5:8080 for a self-hosted one), and the contact
    # they see on our VAPID claims (mailto: or https:; by default the SMTP sender or the
    # public URL).
    push_services: str = (
        "fcm.googleapis.com,updates.push.services.mozilla.com,web.push.apple.com,"
        "*.notify.windows.com"
    )
    vapid_subject: str | None = None
    # Hosts that URLs chosen by tenants (flows' HTTP steps) or browsers may reach although
    # they are internal (loopback, private, link-local...): host names, IPs or networks. Only
    # the operator sets this; see pytake.egress.
    egress_allow: str = ""
    # Sandbox numbers (a simulated WhatsApp served by PyTake itself) and the customer phone
    # page; false removes their routes.
    sandbox: bool = True

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("use redis://host:port/db, rediss:// or unix://")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("the URL has no host")
        return value

    @field_validator("graph_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("use an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("media_hosts")
    @classmethod
    def _media_hosts(cls, value: str) -> str:
        hosts = [host.strip().lower() for host in value.split(",") if host.strip()]
        if any(not re.fullmatch(r"[a-z0-9.-]+", host) for host in hosts):
            raise ValueError("use comma-separated host names, e.g. lookaside.fbsbx.com")
        return ",".join(hosts)

    @field_validator("push_services")
    @classmethod
    def _push_services(cls, value: str) -> str:
        entries = [entry.strip().lower().rstrip("/") for entry in value.split(",") if entry.strip()]
        for entry in entries:
            parts = urlsplit(entry if "://" in entry else f"https://{entry}")
            host = (parts.hostname or "").removeprefix("*.")
            if parts.scheme not in ("http", "https") or not re.fullmatch(r"[a-z0-9.-]+", host):
                raise ValueError("use host names, *.domain or origins, e.g. fcm.googleapis.com")
        return ",".join(entries)

    @field_validator("egress_allow")
    @classmethod
    def _egress_allow(cls, value: str) -> str:
        entries = [entry.strip().lower().rstrip(".") for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if _network(entry) is None and not _HOST_NAME.fullmatch(entry):
                raise ValueError(
                    "use host names, IP addresses or networks, e.g. erp.intranet,10.1.2.0/24"
                )
        return ",".join(entries)

    @field_validator("vapid_subject")
    @classmethod
    def _vapid_subject(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and not value.startswith(("mailto:", "https://")):
            raise ValueError("use mailto:someone@example.com or an https:// URL")
        return value or None

    @field_validator("smtp_host", "smtp_username")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        if not (value or "").strip():
            return None
        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError("use an address, e.g. PyTake <inbox@example.com>")
        return value.strip()

    @field_validator("graph_api_version")
    @classmethod
    def _graph_version(cls, value: str) -> str:
        if not re.fullmatch(r"v\d{2,3}\.0", value):
            raise ValueError("use Meta's form vNN.0, e.g. v26.0")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"use at least {MIN_SECRET_KEY_LENGTH} random characters")
        return value or None

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.production and not self.secret_key:
            raise ValueError(
                "PYTAKE_SECRET_KEY is required in production mode (PYTAKE_REDIS_URL is set): "
                "every worker must sign with the same key"
            )
        return self

    @model_validator(mode="after")
    def _workers_need_redis(self) -> Settings:
        if self.workers and self.workers > 1 and not self.redis_url:
            raise ValueError(
                "PYTAKE_WORKERS: more than one worker needs PYTAKE_REDIS_URL "
                "(each worker would otherwise keep its own sessions' state)"
            )
        return self

    @model_validator(mode="after")
    def _someone_runs_the_pipeline(self) -> Settings:
        if not self.run_workers and not self.redis_url:
            raise ValueError(
                "PYTAKE_RUN_WORKERS=false needs PYTAKE_REDIS_URL: in embedded mode nothing else "
                "would process webhooks"
            )
        return self

    @model_validator(mode="after")
    def _job_processes_need_redis(self) -> Settings:
        if self.job_processes and not self.redis_url:
            raise ValueError(
                "PYTAKE_JOB_PROCESSES needs PYTAKE_REDIS_URL: in embedded mode the web process "
                "runs the jobs itself"
            )
        return self

    @model_validator(mode="after")
    def _smtp_complete(self) -> Settings:
        if self.smtp_host and not self.smtp_from:
            raise ValueError(
                "PYTAKE_SMTP_FROM is required when PYTAKE_SMTP_HOST is set "
                "(the sender of invitation e-mails)"
            )
        if self.smtp_username and self.smtp_password is None:
            raise ValueError("PYTAKE_SMTP_PASSWORD is required when PYTAKE_SMTP_USERNAME is set")
        return self

    @property
    def production(self) -> bool:
        """Production mode is PostgreSQL/Redis with several workers; Redis is what allows them."""
        return self.redis_url is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def media_root(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @property
    def media_download_hosts(self) -> frozenset[str]:
        """Hosts media may be downloaded from: the Graph API's own, and Meta's CDN."""
        hosts = {host for host in self.media_hosts.split(",") if host}
        hosts.add(urlsplit(self.graph_api_url).netloc.lower())
        return frozenset(hosts)

    @property
    def egress_allowlist(self) -> tuple[frozenset[str], tuple[Network, ...]]:
        """PYTAKE_EGRESS_ALLOW as (host names, networks); an IP is a one-address network."""
        entries = [entry for entry in self.egress_allow.split(",") if entry]
        networks = tuple(net for net in map(_network, entries) if net is not None)
        return frozenset(e for e in entries if _network(e) is None), networks

    def push_service_allowed(self, endpoint: str) -> bool:
        """A subscription's endpoint must be https on a listed push service (or exactly a
        listed origin): we POST to it, so it must never reach into our own network."""
        parts = urlsplit(endpoint)
        try:
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:  # a port that is not a number, or out of range
            return False
        if not host or parts.username or parts.password:
            return False
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        for entry in self.push_services.split(","):
            if "://" in entry:
                if origin == entry:
                    return True
            elif (
                parts.scheme == "https"
                and port in (None, 443)  # a listed name on another port is another service
                and (host == entry or (entry.startswith("*.") and host.endswith(entry[1:])))
            ):
                return True
        return False

    @property
    def vapid_contact(self) -> str:
        if self.vapid_subject:
            return self.vapid_subject
        if self.smtp_from:
            return f"mailto:{parseaddr(self.smtp_from)[1]}"
        if self.public_url and self.public_url.startswith("https://"):
            return self.public_url
        return "mailto:pytake@localhost"

    @property
    def cookie_secure(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        try:
            if path.exists():
                key = path.read_text(encoding="utf-8").strip()
                if len(key) >= MIN_SECRET_KEY_LENGTH:
                    return key
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key)
            return key
        except OSError as exc:
            raise SettingsError(
                f"PYTAKE_DATA_DIR: cannot keep the generated secret key in {path}: {exc.strerror}"
            ) from exc


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(entry: str) -> Network | None:
    """``10.1.2.3``, ``10.1.0.0/16`` or ``fd00::/8`` as a network; None for a host name."""
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def normalize_database_url(value: str) -> str:
    """Accept the URL forms operators paste and return the one SQLAlchemy needs."""
    parts = urlsplit(value)
    scheme = parts.scheme
    if scheme == "sqlite":
        if not value.startswith("sqlite:///"):
            raise ValueError("use sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return value
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError("the PostgreSQL URL has no host")
        if not parts.path.strip("/"):
            raise ValueError("the PostgreSQL URL names no database")
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    raise ValueError(f"unsupported scheme {scheme or '(none)'!r}: use sqlite:/// or postgresql://")


def describe_validation_error(exc: ValidationError) -> str:
    """One line per wrong setting, each naming its environment variable."""
    lines = []
    for error in exc.errors():
        location = error.get("loc") or ()
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if location:
            name = ENV_PREFIX + str(location[0]).upper()
            lines.append(f"{name}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)


@functools.cache
def get_settings() -> Settings:
    """Load once per process; raise ``SettingsError`` with a readable message."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
