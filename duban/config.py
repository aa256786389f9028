"""The one settings object. The only module that reads the environment."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from duban.private_files import private_dir

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DEFAULT_DIRECTORY_FILE = PACKAGE_DIR / "data" / "directory" / "zhuhai.yaml"
REFERENCE_PLAN_NAME = "zhuhai-2014-social-construction.txt"
REFERENCE_PLAN_FILE = PACKAGE_DIR / "data" / "plans" / REFERENCE_PLAN_NAME
# Pool defaults, shared with duban.db.engine_for_url's keyword defaults.
DB_POOL_SIZE = 5
DB_MAX_OVERFLOW = 5
DB_POOL_TIMEOUT = 30.0
DB_POOL_RECYCLE = 1800


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "duban"


class Settings(BaseSettings):
    """duban's settings, read from ``DUBAN_*`` environment variables.

    ``database_url`` defaults to a SQLite file inside ``data_dir``; the data
    directory is created on first use, never at import time.
    """

    model_config = SettingsConfigDict(env_prefix="DUBAN_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""
    directory_file: Path = DEFAULT_DIRECTORY_FILE
    # Operator holiday-notice files (<year>.yaml); None means data_dir/"calendar"
    # when that directory exists. See duban/services/calendar/data.py.
    calendar_dir: Path | None = None
    # Opt-in: count Monday-Friday as working days in years no notice covers
    # (otherwise such a date is an error that names the missing year).
    calendar_weekend_fallback: bool = False
    # No time zone here: the organisation file's ``timezone`` (stored by
    # `duban org load`) is the one zone source (duban.timeutil).
    # A measure with no dated target is due at the plan's horizon; when the plan
    # names no horizon this fallback (the 13th five-year plan's end) is used.
    default_horizon: date = date(2020, 12, 31)
    # A supporting department's task is due this many working days before the lead's.
    support_lead_workdays: int = 10
    # A task whose due date has passed (or is within the first reminder's lead)
    # when assigned is due this many working days after assignment instead.
    past_due_grace_workdays: int = Field(default=15, ge=1, le=250)
    # The 考核 weights (YAML, keys of duban.domain.scorecard.ScoreWeights) for the
    # scorecard page, the workbook and `duban report scorecard`; None: the defaults.
    score_weights_file: Path | None = None
    sql_echo: bool = False
    # Connection pool of each process's engine (PostgreSQL only; SQLite keeps
    # SQLAlchemy's defaults). See duban.db.engine_for_url for how to size it.
    db_pool_size: int = DB_POOL_SIZE
    db_max_overflow: int = DB_MAX_OVERFLOW
    db_pool_timeout: float = DB_POOL_TIMEOUT  # seconds to wait for a free connection
    db_pool_recycle: int = DB_POOL_RECYCLE  # seconds before a connection is reopened
    # Message templates (templates/notifications/<step>/…) and links in messages.
    templates_dir: Path = PROJECT_DIR / "templates"
    base_url: str | None = None  # the org file's base_url wins when set
    sender_name: str = "督办科"
    # WeCom API root for dubanwecom:// and dubanwecomapp:// contacts without ?base=;
    # government editions (政务微信, 粤政易) serve the same API at their own address.
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    # A message still unsent this many working days after it was due (it is
    # retried all the while) is shown as 送达受阻 on the desk and the dashboard.
    delivery_blocked_workdays: int = 1
    # Web (duban serve). The key signs sessions and department links; when unset
    # one is generated once and kept in DATA_DIR/secret_key (never committed).
    secret_key: str | None = None
    # A department link (in every notice) stops working this many days after
    # the message was composed; each new notice carries a fresh one.
    link_max_age_days: int = 120
    # Largest attachment accepted on a department's 报结 (bytes, per file).
    upload_max_bytes: int = 20 * 1024 * 1024
    # Largest request body (bytes), refused with 413 before it is read: routes
    # that take files (报结, plan upload) and every other request.
    upload_request_max_bytes: int = 25 * 1024 * 1024
    request_max_bytes: int = 1024 * 1024
    # Largest absolute value a report may give for an indicator that is not a
    # percentage (percentages lie within 0-100 unless their target says otherwise).
    indicator_max: float = 1e12
    # Staff sessions end after this many hours; cookies need HTTPS when secure.
    session_hours: int = 12
    cookie_secure: bool = False
    # LibreOffice's soffice, which turns printable documents (.docx) into PDF;
    # None: found on PATH (soffice or libreoffice).
    soffice: str | None = None
    # Test-only fault injection: the measure flow's process dies (os._exit) right
    # after creating this many new tasks, as a crash would. Never set in production.
    fault_crash_after_tasks: int | None = None
    # Test-only: the flow run stops at this point ("task-created" after a
    # measure flow's first new task, "sweep-claimed" after a sweep's claim)
    # while FAULT_PAUSE_FILE exists, so a test can kill a worker or stop a
    # server at a known moment. Never set in production.
    fault_pause_at: str | None = None
    fault_pause_file: Path | None = None

    @model_validator(mode="after")
    def _fill_database_url(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'duban.db'}"
        return self

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed (0700: it holds secrets) and return it."""
        return private_dir(self.data_dir)


PREFECT_DEFAULTS = {
    # The local ephemeral API takes 12-15 s to start on 2 cores; Prefect's 20 s
    # default is too tight on a busy machine.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Telemetry would try to reach the internet on every start.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def apply_prefect_defaults() -> None:
    """Set Prefect settings duban relies on, unless the operator set them, and
    make a local API server Prefect starts stop with this process (also after
    ``kill -9``: duban.prefect_server)."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    from duban.prefect_server import guard_ephemeral_server

    guard_ephemeral_server()


def get_settings() -> Settings:
    """Fresh settings from the current environment (never cached at import)."""
    return Settings()


def environment() -> dict[str, str]:
    """A copy of the process environment, for settings of other programs
    (``PREFECT_*``) and for the environment of supervised child processes."""
    return dict(os.environ)
