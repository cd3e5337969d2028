"""The Settings tab: what a user can set, never showing a secret; saving needs authority."""

from __future__ import annotations

import gradio as gr

from assistant.config import SECRETS, SettingsError
from assistant.security import settings_refusal

from .context import Context
from .errors import friendly


def save_settings(ctx: Context, default_base_model: str, api_key: str, backend: str, llm_url: str, llm_model: str,
                  llm_key: str, login_username: str, login_password: str, clear: list[str] | None = None, *,
                  username: str | None = None, client_host: str | None = None) -> str:
    """Store the settings if this client has authority (`assistant.security.settings_refusal`) and they are
    valid (`Settings.changed`); say what takes effect when."""
    if (why := settings_refusal(ctx.login_active, username, client_host)) is not None:
        return f"⚠️ Not saved: {why}."
    old = ctx.home.load_settings()
    try:
        new = old.changed(default_base_model=default_base_model, api_key=api_key, backend=backend, llm_url=llm_url,
                          llm_model=llm_model, llm_key=llm_key, login_username=login_username,
                          login_password=login_password, clear=clear or [])
    except SettingsError as e:
        return f"⚠️ {e}"
    ctx.home.save_settings(new)
    notes = ["Saved."]
    if new.default_base_model != old.default_base_model:
        notes.append("The new default base model is used by new plans; the comparison engine switches at the next "
                     "start.")
    if (new.login_username, new.login_password_hash) != (old.login_username, old.login_password_hash):
        notes.append("The login takes effect at the next start.")
    return " ".join(notes)


def secrets_line(settings) -> str:
    """Which secrets are set, in words: the secrets themselves never reach the page."""
    p = settings.public()
    said = {True: "set", False: "not set"}
    return (f"API key: **{said[p['api_key_set']]}** · endpoint key: **{said[p['llm_key_set']]}** · "
            f"login: **{said[p['login_set']]}**. Secret boxes start empty: type a new value to replace one, or "
            "tick it under *Remove* to delete it.")


def plugins_table() -> str:
    """The plugins as loaded: name, version, where from, and what each adds — or why it is disabled."""
    from assistant import plugins

    rows = [f"| {p.name} | {p.version} | {p.source} | " + (f"⚠️ disabled: {p.error}" if p.error else p.summary()) + " |"
            for p in plugins.get().plugins]
    return ("#### Plugins\n\nInstall one with pip into Tailor's environment and restart; `TAILOR_PLUGINS` chooses "
            "which load. Tailor never installs a plugin by itself.\n\n"
            "| plugin | version | from | adds |\n|---|---|---|---|\n"
            + "\n".join(r.replace("\n", " ") for r in rows))


def tab(ctx: Context) -> None:
    s = ctx.home.load_settings()
    gr.Markdown(f"Data home: `{ctx.home.root}` (registry, adapters, models, uploads and jobs live here).")
    status = gr.Markdown(secrets_line(s), elem_id="settings-secrets")
    base = gr.Textbox(value=s.default_base_model, label="Default base model (catalog name, hub id or local folder)",
                      elem_id="settings-base")
    api_key = gr.Textbox(label="API key for /v1 (empty: keep the current one)", type="password",
                         elem_id="settings-api-key")
    backend = gr.Radio(["rules", "openai"], value=s.understanding_backend, label="How the assistant understands you",
                       info="rules: built in, offline. openai: any OpenAI-compatible endpoint (falls back to the "
                            "rules).")
    with gr.Row():
        url = gr.Textbox(value=s.llm_url, label="Endpoint URL", placeholder="http://127.0.0.1:8000/v1")
        model = gr.Textbox(value=s.llm_model, label="Model")
        key = gr.Textbox(label="Key (empty: keep)", type="password", elem_id="settings-llm-key")
    with gr.Row():
        user = gr.Textbox(value=s.login_username, label="Login username (optional)", elem_id="settings-user")
        password = gr.Textbox(label="Login password (empty: keep)", type="password", elem_id="settings-password")
    clear = gr.CheckboxGroup(list(SECRETS), label="Remove", elem_id="settings-clear")
    save = gr.Button("Save settings", variant="primary", elem_id="settings-save")
    result = gr.Markdown(elem_id="settings-result")
    gr.Markdown(plugins_table(), elem_id="settings-plugins")

    def on_save(b, k, bk, u, m, lk, user_, pw, cl, request: gr.Request):
        said = save_settings(ctx, b, k, bk, u, m, lk, user_, pw, cl, username=getattr(request, "username", None),
                             client_host=request.client.host if request and request.client else None)
        return {result: said, status: secrets_line(ctx.home.load_settings()), api_key: "", key: "", password: "",
                clear: []}

    save.click(friendly(on_save), [base, api_key, backend, url, model, key, user, password, clear],
               [result, status, api_key, key, password, clear], api_name="save_settings")
