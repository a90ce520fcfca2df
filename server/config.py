"""Settings from GRIDOPS_* environment variables, read when asked for, never at import time."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Public (it is in the repository): only the demo may run with it, see server.keys.
DEV_SECRET = "gridops-dev-secret-change-me-in-production"


class Settings(BaseSettings):
    """One object for every knob, so a worker process behind a proxy is configured the same way."""

    model_config = SettingsConfigDict(env_prefix="GRIDOPS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/gridops.db"
    demo: bool = False  # allows the public DEV_SECRET and a PII key derived from it (./dev up sets it)
    secret_key: str = DEV_SECRET  # JWT key; outside the demo: set, at least 32 bytes (server.keys)
    token_minutes: int = 12 * 60
    bcrypt_rounds: int = 12
    # failed logins (server/auth/throttle.py): after the free ones each failure doubles the wait, up to the max
    login_free_failures: int = 5  # per account name
    login_address_free_failures: int = 50  # per client address: an office behind one NAT shares it
    login_max_block_s: int = 900
    max_body_mb: float = 1.0  # request body limit of every endpoint but the uploads (JSON, forms)
    max_upload_mb: int = 200  # request body limit of grid and device imports (photos: photo_max_mb)
    max_unzipped_mb: int = 1024
    sqlite_max_requests: int = 8  # requests in flight on SQLite (one writer); see server.concurrency
    # PostgreSQL connections per server process, kept open: a request's thread may hold one (40 threads
    # by default). Overflow connections are closed when returned, and each new one costs PostgreSQL a
    # backend and psycopg its prepared statements: 20 + 20 opened 35 a phase under 50 clients (bench_events).
    db_pool_size: int = 40
    db_max_overflow: int = 0
    db_pool_timeout_s: float = 10.0  # then 503 database_busy, not a 30 s wait and a 500
    db_max_requests: int | None = None  # requests in flight on PostgreSQL; None: pool + overflow (server.concurrency)
    # PgBouncer in transaction mode between the servers and PostgreSQL: GRIDOPS_DATABASE_URL points at
    # it, so no server-side prepared statements (PgBouncer 1.18 cannot carry them), and the work that
    # needs a session of its own (the locks that keep jobs single, the live feeds' LISTEN) goes to
    # GRIDOPS_DATABASE_DIRECT_URL
    db_pgbouncer: bool = False
    database_direct_url: str | None = None
    # live feeds (server.feed_hub): "shared", one reader per feed per process; "poll", one poll per stream
    feed_mode: Literal["shared", "poll"] = "shared"
    sqlite_busy_timeout_ms: int = 5000  # how long a SQLite write waits for the write lock before 503 database_busy
    timezone: str = "Asia/Shanghai"
    holiday_calendar: str | None = None  # JSON file of public holidays and make-up days; None: server/events/holidays_cn.json
    host: str = "127.0.0.1"
    port: int = 8000
    public_docs: bool | None = None  # serve /docs, /redoc and /openapi.json; None: only in the demo
    hsts: bool = False  # served over TLS (at a proxy): send Strict-Transport-Security on every response
    # visits (巡查走访): what makes one count toward visits per worker-month
    visit_min_minutes: float = 10.0
    visit_min_inside_share: float = 0.8
    visit_target_per_month: int = 20
    # how late a phone may sync a record: an older event is refused (report_too_old), an older visit
    # is kept but does not count (synced_too_late), so no one's pay moves for a month already closed
    late_sync_days: int = 30
    # indicator values kept per server process (server/indicators/cache.py): a running period this many
    # seconds, a past one 15 times as long; 0 computes every request afresh
    indicator_cache_s: int = 60
    quality_rule: str | None = None  # JSON file of the event quality score rule; None: the built-in 30 points
    key_person_types: str | None = None  # JSON file of key-person types and follow-up intervals; None: server/keypersons/types.json
    assessment_rule: str | None = None  # JSON file of the monthly worker assessment and pay rule; None: server/assessment/rule_2026.json
    # photos: limits and where the bytes live ("filesystem" under media_root, or "s3")
    photo_max_mb: int = 15
    photo_max_pixels: int = 50_000_000  # width × height, read from the header before decoding (decompression bombs)
    media_root: str = "var/media"
    media_backend: str = "filesystem"
    s3_bucket: str = ""
    s3_prefix: str = "photos/"
    s3_endpoint_url: str | None = None  # MinIO, OSS, COS…; None means AWS
    s3_region: str | None = None
    s3_access_key_id: str | None = None  # None: boto3's default credential chain
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: str = "auto"  # "path" for most MinIO set-ups
    # devices over MQTT (README: MQTT ingestion)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None  # the ingester's broker account
    mqtt_password: SecretStr | None = None
    mqtt_client_id: str = "gridops-ingester"  # the persistent session is keyed by it: one per ingester
    mqtt_protocol: int = 5  # 5 (Mosquitto) or 311
    mqtt_embedded: bool = True  # `gridops serve` starts the in-process amqtt broker + ingester (demo)
    demo_devices: int = 200  # with the embedded broker: a simulated fleet publishing for the demo
    ingest_batch_size: int = 2000
    ingest_batch_ms: int = 200
    device_tolerance: float = 2.5  # online while heartbeats arrive within interval × tolerance
    device_max_skew_s: float = 300.0  # messages dated further ahead are dead letters (clock_skew)
    device_max_age_s: float = 86400.0  # messages older than this are dead letters (stale)
    # rentals and tenants
    pii_key: SecretStr | None = None  # Fernet key for ID numbers and phones; required outside the demo
    tenant_no_entry_days: int = 30  # no card entry for this long: a deregistration candidate
    # dashboard (README: Dashboard): the map's tile source; empty keeps the plain offline background.
    # An XYZ template, e.g. 天地图 web-mercator vector tiles with the customer's key:
    # https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY
    basemap_url: str = ""
    basemap_attribution: str = ""
    basemap_max_zoom: int = 18
    dashboard_warning_hours: float = 4.0  # an open event due within this is shown as 预警
    dashboard_feed_seconds: float = 300.0  # the page's feed streams end after this (proxies cut long ones anyway)

    @model_validator(mode="after")
    def _pgbouncer_needs_a_direct_url(self) -> Settings:
        if self.db_pgbouncer and not self.database_direct_url:
            raise ValueError("GRIDOPS_DB_PGBOUNCER=true needs GRIDOPS_DATABASE_DIRECT_URL (PostgreSQL itself, not "
                             "PgBouncer): the locks that keep jobs single need a session of their own / 使用 PgBouncer "
                             "时须设置直连数据库的 GRIDOPS_DATABASE_DIRECT_URL")
        return self

    @property
    def docs_enabled(self) -> bool:
        return self.demo if self.public_docs is None else self.public_docs

    @property
    def late_sync_window(self) -> timedelta:
        return timedelta(days=self.late_sync_days)


@lru_cache
def get_settings() -> Settings:
    """Cached so every request shares one parse of the environment."""
    return Settings()
