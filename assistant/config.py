"""Where Tailor keeps its state: the data home, and the settings stored in it.

The data home (`--home` / `TAILOR_HOME`, default the working directory) holds `registry.db`, `adapters/`,
converted base models (`models/`), uploads and job folders. Everything Tailor writes lives under it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .errors import TailorError


class SettingsError(TailorError, ValueError):
    """settings.json cannot be used; the message names the file and what to do."""


SECRETS = ("API key", "endpoint key", "login")
"""The settings never sent to a browser, by the names the Settings tab's *Remove* box uses."""
MIN_PASSWORD = 8


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
    login_password_hash: str = ""
    """The login's password as a salted scrypt hash (`assistant.security.hash_password`); never the password."""
    extra: dict = field(default_factory=dict)
    """Settings of later features, kept verbatim so an older Tailor never drops them."""

    @property
    def login_set(self) -> bool:
        return bool(self.login_username and self.login_password_hash)

    def changed(self, *, default_base_model: str = "", api_key: str = "", backend: str = "rules", llm_url: str = "",
                llm_model: str = "", llm_key: str = "", login_username: str = "", login_password: str = "",
                clear: list[str] = ()) -> Settings:
        """These settings with a user's changes, checked; SettingsError says what is wrong. Secrets are never
        shown, so an empty secret keeps the stored one; `clear` names the secrets (`SECRETS`) to remove."""
        from .security import hash_password

        backend, llm_url = backend or "rules", (llm_url or "").strip()
        login_username = "" if "login" in clear else (login_username or "").strip()
        if backend == "openai" and not (llm_url and (llm_model or "").strip()):
            raise SettingsError("The language-model backend needs its URL and model name.")
        if llm_url and not llm_url.startswith(("http://", "https://")):
            raise SettingsError("The endpoint URL must start with http:// or https://")
        new_hash = "" if "login" in clear else (hash_password(login_password) if login_password
                                                 else self.login_password_hash)
        if bool(login_username) != bool(new_hash):
            raise SettingsError("A login needs both a username and a password (or neither).")
        if login_password and len(login_password) < MIN_PASSWORD:
            raise SettingsError(f"A login password needs at least {MIN_PASSWORD} characters.")
        for name, key in (("API key", api_key), ("endpoint key", llm_key)):
            key = (key or "").strip()
            if key and not all("!" <= c <= "~" for c in key):
                raise SettingsError(f"The {name} must be printable ASCII without spaces: it is sent in an HTTP "
                                    "header (`Authorization: Bearer <key>`), which cannot carry other characters.")
        return replace(self, default_base_model=(default_base_model or "").strip() or self.default_base_model,
                       api_key="" if "API key" in clear else ((api_key or "").strip() or self.api_key),
                       understanding_backend=backend, llm_url=llm_url, llm_model=(llm_model or "").strip(),
                       llm_key="" if "endpoint key" in clear else ((llm_key or "").strip() or self.llm_key),
                       login_username=login_username, login_password_hash=new_hash)

    def public(self) -> dict:
        """What a browser may see: every setting, with each secret replaced by whether it is set."""
        return {"default_base_model": self.default_base_model, "understanding_backend": self.understanding_backend,
                "llm_url": self.llm_url, "llm_model": self.llm_model, "login_username": self.login_username,
                "api_key_set": bool(self.api_key), "llm_key_set": bool(self.llm_key), "login_set": self.login_set}


@dataclass(frozen=True)
class Environment:
    """Every environment variable of Tailor's own, each documented once. `environment()` reads them afresh,
    so a change (or a test's monkeypatch) takes effect at the next use. Other programs' variables are honoured
    where they are used: HF_HUB_OFFLINE, HF_HOME / HF_HUB_CACHE, CUDA_VISIBLE_DEVICES, and RANK / WORLD_SIZE
    set by `accelerate launch`; TAILOR_FAULT exists for the recovery tests (assistant/faults.py)."""

    home: str | None
    """TAILOR_HOME: the data home (default: the working directory)."""
    cache: Path
    """TAILOR_CACHE: per-user cache of tokenizers read from GGUF files (default ~/.cache/tailor)."""
    gpu_memory_gb: float | None
    """TAILOR_GPU_MEMORY (with TAILOR_GPU_NAME): the GPU to plan for instead of the detected one."""
    gpu_name: str
    serve_device: str
    """TAILOR_SERVE_DEVICE: `auto` (default) serves from the GPU when there is one, moving off it while a
    training job is queued or running; `cpu` always from the CPU; `cuda` the same as `auto`."""
    serve_compile: bool
    """TAILOR_SERVE_COMPILE: `0` turns off static-cache decoding with a compiled (CUDA-graph) step on a GPU."""
    cpu_pack: bool
    """TAILOR_CPU_PACK: `0` turns off the engine's oneDNN-prepacked weights on a CPU (default on)."""
    cpu_gflops: float | None
    """TAILOR_CPU_GFLOPS: the rate CPU training is planned at, in GFLOP/s (default: measured on this CPU,
    `models/cpu_speed.py`)."""
    cpu_share: bool
    """TAILOR_CPU_SHARE: `0` turns off sharing the cores between a CPU training job and the engine
    (`machine.py`); each then uses every core, and both slow down far more than twice when they overlap."""
    train_processes: int | None
    """TAILOR_TRAIN_PROCESSES: processes per training job (default: one per visible GPU)."""
    max_import_bytes: int
    """TAILOR_MAX_IMPORT_BYTES: the ceiling on one adapter import, whatever the base (default 4 GiB)."""
    max_data_bytes: int
    """TAILOR_MAX_DATA_BYTES: the largest data file read; it is read into memory whole (default 1 GiB)."""
    plugins: str | None
    """TAILOR_PLUGINS: which installed plugins load — unset: all; `none`: the built-ins only; or a
    comma-separated list of entry-point names (`tailor plugins list` shows them)."""


def environment() -> Environment:
    e = os.environ
    return Environment(
        home=e.get("TAILOR_HOME") or None,
        cache=Path(e.get("TAILOR_CACHE") or Path.home() / ".cache" / "tailor"),
        gpu_memory_gb=float(e["TAILOR_GPU_MEMORY"]) if e.get("TAILOR_GPU_MEMORY") else None,
        gpu_name=e.get("TAILOR_GPU_NAME", "GPU"), serve_device=e.get("TAILOR_SERVE_DEVICE", "auto").lower(),
        serve_compile=e.get("TAILOR_SERVE_COMPILE", "1") != "0",
        cpu_pack=e.get("TAILOR_CPU_PACK", "1") == "1",
        cpu_gflops=float(e["TAILOR_CPU_GFLOPS"]) if e.get("TAILOR_CPU_GFLOPS") else None,
        cpu_share=e.get("TAILOR_CPU_SHARE", "1") != "0",
        train_processes=int(e["TAILOR_TRAIN_PROCESSES"]) if e.get("TAILOR_TRAIN_PROCESSES") else None,
        max_import_bytes=int(e.get("TAILOR_MAX_IMPORT_BYTES", str(4 * 1024**3))),
        max_data_bytes=int(e.get("TAILOR_MAX_DATA_BYTES", str(1024**3))),
        plugins=e.get("TAILOR_PLUGINS") or None)


@dataclass(frozen=True)
class Home:
    """The data home and the paths inside it."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> Home:
        root = Path(home or environment().home or os.getcwd()).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return cls(root)

    # The rooms of the data home.
    db_path = property(lambda self: self.root / "registry.db")
    settings_path = property(lambda self: self.root / "settings.json")
    adapters = property(lambda self: self.root / "adapters")
    """One folder per adapter version: adapters/<name>/<version>/."""
    models = property(lambda self: self.root / "models")
    """Converted and downloaded base models."""
    uploads = property(lambda self: self.root / "uploads")
    """Data files attached in the page, kept by fingerprint."""
    jobs = property(lambda self: self.root / "jobs")
    """One folder per job: checkpoints, the saved adapter, result.json, the worker's log."""

    def job_dir(self, job_id: int) -> Path:
        return self.jobs / f"job-{job_id}"

    def load_settings(self) -> Settings:
        """The stored settings. A password written in plain text (by hand, or by an older Tailor) is hashed
        here and never kept; `save_settings` then writes only the hash."""
        path = self.settings_path
        if not path.exists():
            return Settings()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SettingsError(f"{path}: cannot be read ({e}); fix or remove it") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"{path}: expected a JSON object of settings")
        plain = raw.pop("login_password", None)
        if plain and not raw.get("login_password_hash"):
            from .security import hash_password

            raw["login_password_hash"] = hash_password(str(plain))
        known = {k: v for k, v in raw.items() if k in Settings.__dataclass_fields__ and k != "extra"}
        extra = {k: v for k, v in raw.items() if k not in Settings.__dataclass_fields__}
        return Settings(**known, extra={**raw.get("extra", {}), **extra})

    def save_settings(self, settings: Settings) -> None:
        """Write settings.json readable by its owner only (mode 0600): it holds the API and backend keys."""
        path = self.settings_path
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(asdict(settings), indent=2))
        os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a tmp file left over from a crash
        tmp.replace(path)

