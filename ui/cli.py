"""The installed `tailor` command: the library's commands (assistant/cli.py) and `serve`, the web app.

It sits above both `assistant` and `ui`, so the library never imports the web app:

    python -m ui.cli serve [--host 127.0.0.1] [--port 7860] [--allow-anonymous] [--api-only]
"""

from __future__ import annotations

import sys

from assistant import cli
from assistant.config import Home


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--base-model", help="base model served for comparison (default: the settings' default)")
    p.add_argument("--api-only", action="store_true", help="serve only the OpenAI-compatible API under /v1")
    p.add_argument("--allow-anonymous", action="store_true",
                   help="listen on a network address without a login (refused otherwise)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from assistant.errors import TailorError
    from assistant.security import serve_refusal

    home = Home.resolve(args.home)
    # Refused before the web app (Gradio, the engine) is even imported: the answer comes at once.
    if (why := serve_refusal(home.load_settings(), args.host, args.api_only, args.allow_anonymous)) is not None:
        raise TailorError(why)

    from .app import serve

    serve(home, host=args.host, port=args.port, base_model=args.base_model,
          api_only=args.api_only, allow_anonymous=args.allow_anonymous)  # a refusal is a TailorError: one line
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, extra=[add_serve])


if __name__ == "__main__":
    sys.exit(main())
