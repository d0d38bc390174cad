"""Settings of the running program, read once from the environment (HUYING_*) or a .env file."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org"


def example_config() -> Path:
    """The shipped example deployment (太白湖新区), used by the demo and as a fallback."""
    return Path(str(files("bot") / "data" / "taibaihu.yaml"))


class Settings(BaseSettings):
    """Everything the program needs from its environment; see deploy/huying.env.example."""

    model_config = SettingsConfigDict(env_prefix="HUYING_", env_file=".env", extra="ignore")

    telegram_token: SecretStr | None = None
    telegram_api_url: str = TELEGRAM_API
    database_url: str | None = None
    config: Path | None = None
    data_dir: Path = Path("data")
    bot_username: str | None = None
    log_level: str = "INFO"
    sender_batch: int = 20
    # Keep within Telegram's limits (30 messages/s, 1/s per chat). Off only for benchmarks
    # against the local emulator, which measure the program rather than Telegram's ceiling.
    rate_limits: bool = True
    # Webhook mode (`huying run --webhook`): Telegram posts to webhook_url, which a reverse
    # proxy forwards to webhook_host:webhook_port + webhook_path.
    webhook_url: str | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    webhook_secret: SecretStr | None = None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'huying.db'}"

    @property
    def config_path(self) -> Path:
        return self.config or example_config()
