"""Settings from GRIDOPS_* environment variables, read when asked for, never at import time."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "gridops-dev-secret-change-me-in-production"


class Settings(BaseSettings):
    """One object for every knob, so a worker process behind a proxy is configured the same way."""

    model_config = SettingsConfigDict(env_prefix="GRIDOPS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/gridops.db"
    secret_key: str = DEV_SECRET
    token_minutes: int = 12 * 60
    bcrypt_rounds: int = 12
    max_upload_mb: int = 200
    max_unzipped_mb: int = 1024
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = 8000


@lru_cache
def get_settings() -> Settings:
    """Cached so every request shares one parse of the environment."""
    return Settings()
