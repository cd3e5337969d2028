"""Where Tailor keeps its state: the data home, and the settings stored in it.

The data home (`--home` / `TAILOR_HOME`, default the working directory) holds `registry.db`, `adapters/`,
converted base models (`models/`), uploads and job folders. Everything Tailor writes lives under it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Settings:
    """User settings, stored as `settings.json` in the data home."""

    default_base_model: str = "SmolLM2-135M-Instruct"
    """Catalog name, hub id or local folder of the base model used when the user names none."""
    api_key: str = ""
    """When set, the OpenAI-compatible API requires `Authorization: Bearer <api_key>`."""
    understanding_backend: str = "rules"
    """`rules` (offline, always available) or `openai` (any OpenAI-compatible endpoint below)."""
    llm_url: str = ""
    """Base URL of the OpenAI-compatible endpoint used by the `openai` understanding backend."""
    llm_model: str = ""
    """Model name sent to that endpoint."""
    llm_key: str = ""
    """Key sent to that endpoint."""
    login_username: str = ""
    """When set (with a password), the web app asks for this login; takes effect at the next start."""
    login_password: str = ""
    extra: dict = field(default_factory=dict)
    """Settings of later features, kept verbatim so an older Tailor never drops them."""


@dataclass(frozen=True)
class Home:
    """The data home and the paths inside it."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> Home:
        root = Path(home or os.environ.get("TAILOR_HOME") or os.getcwd()).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    @property
    def db_path(self) -> Path:
        return self.root / "registry.db"

    @property
    def adapters(self) -> Path:
        return self.root / "adapters"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def job_dir(self, job_id: int) -> Path:
        return self.jobs / f"job-{job_id}"

    def load_settings(self) -> Settings:
        path = self.root / "settings.json"
        if not path.exists():
            return Settings()
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {k: v for k, v in raw.items() if k in Settings.__dataclass_fields__ and k != "extra"}
        extra = {k: v for k, v in raw.items() if k not in Settings.__dataclass_fields__}
        return Settings(**known, extra={**raw.get("extra", {}), **extra})

    def save_settings(self, settings: Settings) -> None:
        path = self.root / "settings.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
        tmp.replace(path)
