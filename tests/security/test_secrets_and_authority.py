"""No secret leaves the server, and nothing changes without authority — checked over real HTTP against the
real app. A client on another machine is simulated the way a reverse proxy presents one: the server trusts
`X-Forwarded-For` from loopback only (uvicorn's default), so the header makes the request come from there."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile

import httpx
import pytest

from assistant.config import Home, Settings
from assistant.registry import Registry
from assistant.registry.store import store_adapter
from assistant.security import hash_password, is_loopback, settings_refusal, verify_password
from helpers import peft_adapter
from server import free_port, running_app

SECRETS = {"api_key": "sk-SECRET-api-7f3a", "llm_key": "sk-SECRET-llm-91bc", "login_password": "pw-SECRET-3d2e"}
REMOTE = {"X-Forwarded-For": "203.0.113.7"}


def leaked(text: str, settings_file) -> list[str]:
    stored = json.loads(settings_file.read_text())
    found = [v for v in SECRETS.values() if v in text]
    if stored.get("login_password_hash") and stored["login_password_hash"].split("$")[-1] in text:
        found.append("the password hash")
    return found


def call(client: httpx.Client, api_name: str, data: list, headers: dict | None = None) -> str:
    """Gradio's HTTP API: POST the inputs, then read the result event."""
    r = client.post(f"gradio_api/call/{api_name}", json={"data": data}, headers=headers or {})
    if r.status_code != 200:
        return f"HTTP {r.status_code}"
    event = r.json()["event_id"]
    body = client.get(f"gradio_api/call/{api_name}/{event}", headers=headers or {}).text
    return body


def get_routes() -> list[str]:
    """Every GET route of the server without path parameters, from the app itself (but /logout, which would
    end the signed-in session the walk is meant to check)."""
    from assistant.models.estimate import CPU
    from assistant.serve.engine import Engine
    from ui.app import build_server
    from ui.context import Context

    home = Home.resolve()
    reg = Registry(home)
    app = build_server(Context(home, reg, Engine(reg, "unused"), CPU))
    paths = {path for path, methods in walk_routes(app.routes)
             if "GET" in methods and "{" not in path and "logout" not in path}
    # The walk must reach the routes that matter: Tailor's own API and Gradio's, each included under a prefix.
    missed = {"/", "/config", "/v1/models", "/tokenizer_info", "/gradio_api/info", "/gradio_api/queue/status"} - paths
    assert not missed, f"the route walk missed {sorted(missed)}: the app's routes are nested in a way it does not know"
    return sorted(paths)


EVENT_STREAMS = {"/gradio_api/dev/reload"}
"""GET routes that answer with an event stream that never ends (Gradio's reload notices for its dev mode): their
status and headers are read, not their bodies. A new one fails the walk until it is looked at and named here."""


def get_body(web: httpx.Client, path: str) -> str:
    """A GET route's body, or "" for a known event stream (read to its headers)."""
    with web.stream("GET", path.lstrip("/")) as r:
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            assert path in EVENT_STREAMS, f"{path} answers with an event stream nobody has looked at"
            return ""
        return r.read().decode("utf-8", errors="replace")


def walk_routes(routes, prefix: str = ""):
    """(path, methods) of every route, through mounts and included routers. FastAPI 0.12x flattened an included
    router's routes into the app's list; later versions keep one `_IncludedRouter` entry holding the router and
    its prefix, which a one-level walk passes by (it found neither /v1/* nor /gradio_api/*)."""
    for route in routes:
        included, context = getattr(route, "original_router", None), getattr(route, "include_context", None)
        if included is not None and context is not None:
            yield from walk_routes(included.routes, prefix + context.prefix)
            continue
        path = getattr(route, "path", None) or ""
        if getattr(route, "methods", None):
            yield prefix + path, set(route.methods)
        yield from walk_routes(getattr(route, "routes", None) or [], prefix + path)


# -- the rules, as functions --------------------------------------------------------------------------
def test_passwords_are_stored_as_salted_scrypt_hashes():
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1 != h2 and h1.startswith("scrypt$") and "correct horse" not in h1
    assert verify_password("correct horse", h1) and not verify_password("wrong", h1)
    assert not verify_password("x", "garbage") and not verify_password("x", "")


def test_loopback_and_the_settings_rule():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.0.0.2", "203.0.113.7", "::", "", None, "example.com"))
    assert settings_refusal(False, None, "127.0.0.1") is None
    assert "only from this machine" in settings_refusal(False, None, "203.0.113.7")
    assert settings_refusal(True, "ann", "203.0.113.7") is None
    assert settings_refusal(True, None, "127.0.0.1") is not None


def test_settings_file_is_private_and_never_holds_the_password(tmp_path):
    home = Home.resolve(tmp_path / "h")
    home.settings_path.write_text(json.dumps({"login_username": "ann", "login_password": "pw-plain"}))
    s = home.load_settings()
    assert s.login_set and verify_password("pw-plain", s.login_password_hash)
    home.save_settings(s)
    assert stat.S_IMODE(home.settings_path.stat().st_mode) == 0o600
    text = home.settings_path.read_text()
    assert "pw-plain" not in text and "login_password\"" not in text
    assert set(s.public()) >= {"api_key_set", "llm_key_set", "login_set"}
    assert not any(v in json.dumps(s.public()) for v in (s.api_key or "x-none", s.login_password_hash))


# -- over HTTP -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_without_a_login_no_secret_leaves_and_only_this_machine_may_change_settings(tmp_path, tiny_model):
    home = tmp_path / "home"
    settings = {"api_key": SECRETS["api_key"], "llm_key": SECRETS["llm_key"], "llm_url": "http://127.0.0.1:9/v1",
                "llm_model": "m", "understanding_backend": "rules"}
    adapter = peft_adapter(tiny_model, tmp_path / "shared", seed=2)
    reg = Registry(Home.resolve(home))
    store_adapter(reg, adapter, {"name": "shared", "task": {"type": "classification"},
                                 "base_model": {"name": tiny_model.name, "source": str(tiny_model)}},
                  job_id=None, plan_id=None, base_hub_id=str(tiny_model), base_source=str(tiny_model), metrics={},
                  log_file=None)
    with running_app(home, tiny_model, settings=settings) as url, httpx.Client(base_url=url, timeout=60) as web:
        settings_file = home / "settings.json"
        assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600
        # Every GET route, and the config the page is built from.
        for path in get_routes():
            assert not leaked(get_body(web, path), settings_file), f"{path} leaks a secret"
        config = web.get("config").text
        assert not leaked(config, settings_file) and "API key: **set**" in config
        for path in ("docs", "redoc", "openapi.json"):
            assert web.get(path).status_code == 404
        # The file route serves none of the data home.
        for f in (home / "settings.json", home / "registry.db", home, home / "adapters" / "shared" / "1" /
                  "adapter_model.safetensors"):
            assert web.get(f"gradio_api/file={f}").status_code == 403, f
        # ... but does serve what a click produced.
        body = call(web, "download", ["shared:1"])
        served = json.loads(body.split("data: ", 2)[-1])[0]["url"]
        z = web.get(served)
        assert z.status_code == 200
        with zipfile.ZipFile(__import__("io").BytesIO(z.content)) as archive:
            assert "adapter_model.safetensors" in archive.namelist()
        # Settings: refused from another machine, allowed from this one.
        before = settings_file.read_text()
        remote = call(web, "save_settings", ["x", "", "openai", "http://evil.example/v1", "m", "", "", "", []], REMOTE)
        assert "Not saved" in remote and "only from this machine" in remote
        assert settings_file.read_text() == before
        local = call(web, "save_settings", ["", "", "rules", "", "", "", "", "", []])
        assert "Saved." in local and not leaked(local, settings_file)
        after = json.loads(settings_file.read_text())
        assert after["api_key"] == SECRETS["api_key"] and after["llm_key"] == SECRETS["llm_key"], "empty boxes keep"
        # /v1 without a key answers this machine only.
        assert web.get("v1/models", headers={"Authorization": f"Bearer {SECRETS['api_key']}"}).status_code == 200
        assert web.get("v1/models").status_code == 401


@pytest.mark.slow
def test_with_a_login_the_signed_in_browser_gets_no_secret_either(tmp_path, tiny_model):
    home = tmp_path / "home"
    settings = {"login_username": "ann", "login_password": SECRETS["login_password"], **{
        k: SECRETS[k] for k in ("api_key", "llm_key")}}
    with running_app(home, tiny_model, settings=settings) as url, httpx.Client(base_url=url, timeout=60) as web:
        settings_file = home / "settings.json"
        assert SECRETS["login_password"] not in settings_file.read_text(), "the password was kept in plain text"
        assert "HTTP 401" in call(web, "save_settings", ["", "", "rules", "", "", "", "", "", []])
        assert web.get(f"gradio_api/file={home / 'settings.json'}").status_code in (401, 403)
        assert web.post("login", data={"username": "ann", "password": SECRETS["login_password"]}).status_code == 200
        for path in [*get_routes(), "config"]:
            assert not leaked(get_body(web, path), settings_file), f"{path} leaks a secret"
        assert web.get(f"gradio_api/file={home / 'settings.json'}").status_code == 403
        assert "Saved." in call(web, "save_settings", ["", "", "rules", "", "", "", "ann", "", []], REMOTE)


def test_a_network_address_without_a_login_refuses_to_start(tmp_path):
    home = tmp_path / "home"
    r = subprocess.run([sys.executable, "-m", "ui.cli", "--home", str(home), "serve", "--host", "0.0.0.0",
                        "--port", str(free_port())], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "TAILOR_HOME": str(home)})
    # Refused before anything starts: no server (a started one would run past the timeout), nothing printed of it.
    assert r.returncode == 2 and "data home" not in r.stdout and "open http" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0 without a login" in lines[0]
    assert "--allow-anonymous" in lines[0]
    api = subprocess.run([sys.executable, "-m", "ui.cli", "--home", str(home), "serve", "--api-only",
                          "--host", "0.0.0.0", "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    assert api.returncode == 2 and "without an API key" in api.stderr


@pytest.mark.slow
def test_allow_anonymous_starts_and_warns(tmp_path, tiny_model):
    home = tmp_path / "home"
    with running_app(home, tiny_model, args=("--host", "0.0.0.0", "--allow-anonymous")):
        assert "WARNING: listening on 0.0.0.0 with no login" in (home / "server.log").read_text()


def test_the_settings_page_shows_whether_secrets_are_set_never_their_values(tmp_path):
    from ui.settings_tab import secrets_line

    s = Settings(api_key="sk-abc", llm_key="")
    line = secrets_line(s)
    assert "sk-abc" not in line and "API key: **set**" in line and "endpoint key: **not set**" in line


def test_saving_keeps_empty_secrets_clears_ticked_ones_and_checks_the_login(tmp_path):
    from assistant.models.estimate import CPU
    from assistant.serve.engine import Engine
    from ui.context import Context
    from ui.settings_tab import save_settings

    home = Home.resolve()
    reg = Registry(home)
    home.save_settings(Settings(api_key="k-old", llm_key="e-old"))
    ctx = Context(home, reg, Engine(reg, "unused"), CPU)
    local = {"client_host": "127.0.0.1"}
    assert "Not saved" in save_settings(ctx, "", "k-new", "rules", "", "", "", "", "", client_host="198.51.100.4")
    assert home.load_settings().api_key == "k-old"
    assert "at least 8" in save_settings(ctx, "", "", "rules", "", "", "", "ann", "short", **local)
    for unsendable in ("clé-secrète", "two words", "line\nbreak"):  # no client could send it in a header
        assert "printable ASCII" in save_settings(ctx, "", unsendable, "rules", "", "", "", "", "", **local)
        assert "printable ASCII" in save_settings(ctx, "", "", "rules", "", "", unsendable, "", "", **local)
    assert home.load_settings().api_key == "k-old"
    assert "Saved." in save_settings(ctx, "", "", "rules", "", "", "", "ann", "long enough", **local)
    s = home.load_settings()
    assert (s.api_key, s.llm_key) == ("k-old", "e-old") and verify_password("long enough", s.login_password_hash)
    assert "Saved." in save_settings(ctx, "", "", "rules", "", "", "", "ann", "", ["API key", "login"], **local)
    s = home.load_settings()
    assert (s.api_key, s.llm_key, s.login_set) == ("", "e-old", False)
