"""The web app: `build_app()` returns the Gradio Blocks; `serve()` runs it with the API on one server.

Thin by rule: each tab has a small builder, and each handler calls the library with plain values and
returns named results. Long work never runs in a handler: training runs in worker processes (the page
only reads their state from the registry) and inference in the engine's own thread.
"""

from __future__ import annotations

import secrets

import gradio as gr

from assistant.config import Home, environment
from assistant.errors import TailorError
from assistant.models.resolve import detect_gpu
from assistant.registry import Registry
from assistant.security import is_loopback, serve_refusal, verify_password
from assistant.serve.engine import Engine
from assistant.train import jobs

from . import assistant_tab, compare_tab, jobs_tab, registry_tab, settings_tab
from .context import Context
from .errors import friendly
from .polling import only_while_shown

CSS = """
.sides {display:flex; gap:12px; flex-wrap:wrap}
.side {flex:1 1 260px; border:1px solid var(--border-color-primary); border-radius:8px; padding:8px}
.side pre {white-space:pre-wrap}
#plan-card table {display:block; overflow-x:auto}
#plan-card td:first-child, #plan-card th:first-child {white-space:nowrap}
/* keyboard users always see where they are */
button:focus-visible, input:focus-visible, textarea:focus-visible, [role=tab]:focus-visible, a:focus-visible
  {outline:2px solid var(--color-accent) !important; outline-offset:2px}
.bar {height:8px; background:var(--border-color-primary); border-radius:4px; overflow:hidden}
.bar div {height:100%; background:var(--color-accent)}
/* the selected tab is marked by its accent underline; its words keep the body's contrast */
[role=tab][aria-selected=true] {color:var(--body-text-color) !important; font-weight:600}
footer button, footer a {color:var(--body-text-color) !important}
@media (max-width: 640px) {
  .side {flex-basis:100%}
  #chatbot {height:360px !important}
}
"""


def theme():
    """Gradio's default look with its accents darkened so text on them keeps WCAG AA contrast (4.5:1)."""
    red = gr.themes.colors.red
    return gr.themes.Default().set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover="*primary_800", button_primary_background_fill_hover_dark="*primary_800",
        button_cancel_background_fill=red.c700, button_cancel_background_fill_dark=red.c700,
        button_cancel_background_fill_hover=red.c800, button_cancel_background_fill_hover_dark=red.c800)



def build_app(ctx: Context) -> gr.Blocks:
    with gr.Blocks(title="Tailor") as demo:
        gr.Markdown("# Tailor\nDescribe the task, attach your data, get a fine-tuned adapter.")
        # A function, so each page load reads the status now (a value fixed at build time said "loading" for
        # seconds on every fresh page, long after the model was loaded).
        engine_status = gr.Markdown(lambda: f"Base model: {ctx.engine.status}", elem_id="engine-status")
        polls = {}
        with gr.Tabs():
            with gr.Tab("Assistant", id="assistant") as shown:
                assistant_tab.tab(ctx)
            polls[shown] = []
            with gr.Tab("Jobs", id="jobs") as shown:
                polls[shown] = jobs_tab.tab(ctx)
            with gr.Tab("Registry", id="registry") as shown:
                polls[shown] = registry_tab.tab(ctx)
            with gr.Tab("Compare", id="compare") as shown:
                polls[shown] = compare_tab.tab(ctx)
            with gr.Tab("Settings", id="settings") as shown:
                settings_tab.tab(ctx)
            polls[shown] = []
        only_while_shown(polls)
        # The engine's status until it has loaded (or failed): then the timer stops.
        loading = gr.Timer(2)
        loading.tick(friendly(lambda: (f"Base model: {ctx.engine.status}", gr.Timer(active=not ctx.engine.settled))),
                     outputs=[engine_status, loading], api_visibility="private", show_progress="hidden")
    return demo



def make_context(home: Home, base_model: str | None = None) -> Context:
    registry = Registry(home)
    jobs.reconcile(registry)
    jobs.dispatch(home, registry)
    settings = home.load_settings()
    engine = Engine(registry, base_model or settings.default_base_model)
    return Context(home, registry, engine, detect_gpu(), login_active=settings.login_set)


def max_upload_bytes() -> int:
    """The largest upload the page accepts: the larger of the data file and adapter import limits."""
    env = environment()
    return max(env.max_data_bytes, env.max_import_bytes)


def login_checker(home: Home):
    """Gradio's auth callable: the login in the settings, its password checked against the stored hash."""
    def check(username: str, password: str) -> bool:
        s = home.load_settings()
        return bool(s.login_set) and secrets.compare_digest(username.encode(), s.login_username.encode()) \
            and verify_password(password, s.login_password_hash)
    return check


def build_server(ctx: Context, api_only: bool = False, allow_anonymous: bool = False):
    """The FastAPI app: the OpenAI-compatible API under /v1 and (unless api_only) the web app at /.

    No OpenAPI pages (/docs, /redoc, /openapi.json): they describe the routes to anyone, login or not. The
    file route serves Gradio's own uploads and the copies of what a click produced, never the data home."""
    from fastapi import FastAPI, HTTPException

    from assistant.serve.openai_api import openai_router

    app = FastAPI(title="Tailor", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/openapi.json", include_in_schema=False)  # Gradio's own schema page, mounted below, stays shut too
    def no_schema():
        raise HTTPException(404)

    app.include_router(openai_router(ctx.engine, lambda: ctx.home.load_settings().api_key,
                                     allow_anonymous=allow_anonymous))
    if not api_only:
        h = ctx.home
        private = [h.settings_path, h.db_path, h.adapters, h.models, h.uploads, h.jobs, h.root / "exports"]
        demo = build_app(ctx)
        app = gr.mount_gradio_app(app, demo, path="/", css=CSS, theme=theme(),
                                  blocked_paths=[str(p) for p in private], max_file_size=max_upload_bytes(),
                                  auth=login_checker(h) if ctx.login_active else None, auth_message="Tailor: sign in",
                                  # Gradio's run history kept every public call's inputs, the API key typed into
                                  # Settings among them, in the browser's storage (docs/SECURITY.md).
                                  run_history=False)
        calm_queue(demo)
    return app


QUEUE_IDLE_SLEEP = 0.05
"""Seconds Gradio's queue sleeps between looks at an empty queue (its default on Linux is 0.001: a loop that took
half a core with no page open, from a CPU training run on a 2-core machine; bench/idle_page.py)."""


def calm_queue(demo: gr.Blocks) -> None:
    """Let an idle queue sleep (Gradio 6's `Queue.sleep_when_free`, `progress_update_sleep_when_free`; read on
    every pass of its loops, so setting them after the queue exists takes effect). A request waits at most
    50 ms more to be picked up."""
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = max(queue.sleep_when_free, QUEUE_IDLE_SLEEP)
        queue.progress_update_sleep_when_free = max(queue.progress_update_sleep_when_free, QUEUE_IDLE_SLEEP)


def serve(home: Home, host: str = "127.0.0.1", port: int = 7860, base_model: str | None = None,
          api_only: bool = False, allow_anonymous: bool = False) -> None:
    """Start the engine in the background and serve the app and the API on one port."""
    import uvicorn

    settings = home.load_settings()
    # A login (web app) or an API key (API only) is what stands between the network and the data.
    if (why := serve_refusal(settings, host, api_only, allow_anonymous)) is not None:
        raise ServeRefused(why)
    guarded = bool(settings.api_key) if api_only else settings.login_set
    if allow_anonymous and not guarded and not is_loopback(host):
        print(f"Tailor: WARNING: listening on {host} with no login (--allow-anonymous): anyone who can reach "
              "it can use and change everything but the settings", flush=True)
    print(f"Tailor: data home {home.root}", flush=True)
    home.save_settings(settings)  # writes any plain-text password as its hash, and the file as 0600
    # The page is up at once; the engine loads the base model in its thread (converting the embedded GGUF
    # the first time) and shows its status on the page. A job started meanwhile waits on the conversion lock.
    ctx = make_context(home, base_model)
    ctx.engine.start()
    app = build_server(ctx, api_only, allow_anonymous)
    print(f"Tailor: {'API at' if api_only else 'open'} http://{host}:{port}" + ("/v1" if api_only else ""), flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


class ServeRefused(TailorError):
    """The server will not start as asked; the message says why and what to do."""

