"""The browser side served by ``graphql-repl serve``: the demo app at ``/demo/`` and the
GraphiQL page at ``GET /graphql`` with its assets under ``/graphiql/``.

Both are built from ``frontend_demo/`` (npm, from its lockfile) into ``static/``, which
ships with the package, so nothing is loaded from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
DEMO = STATIC / "demo"
GRAPHIQL = STATIC / "graphiql"


def graphiql_html() -> str | None:
    """The GraphiQL page, or None when the assets were not built."""
    page = GRAPHIQL / "index.html"
    return page.read_text(encoding="utf-8") if page.is_file() else None


def routes() -> list[BaseRoute]:
    return [
        Mount("/demo", StaticFiles(directory=DEMO, html=True, check_dir=False), name="demo"),
        Mount("/graphiql", StaticFiles(directory=GRAPHIQL, check_dir=False), name="graphiql"),
    ]
