"""The Starlette app of `cairn ui`: read-only pages over what a `Source` answers (repo/dashboard.py
composes one from the repository). Every request is a GET; the scripts and stylesheets come from
the package (vendored at build time), never from the network."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol

from cairn.dashboard.table import ExperimentTable
from cairn.errors import CairnError, MissingDependencyError, PathError, UserInputError

HERE = Path(__file__).parent
VENDOR = HERE / "vendor"
TEMPLATES = HERE / "templates"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PAGE_SIZE = 100
_SORT = re.compile(r"^sort\[(\d+)\]\[(field|dir)\]$")


class Source(Protocol):
    """What the pages show; every method reads the repository as it is at the call."""

    name: str

    def experiments(self, with_commits: bool = False) -> ExperimentTable: ...
    def compare(self, names: list[str]) -> dict[str, Any]: ...
    def pipeline(self) -> dict[str, Any]: ...
    def lineage(self, path: str) -> dict[str, Any]: ...
    def trend(self, key: str | None, last: int) -> dict[str, Any]: ...
    def data(self, path: str | None, a: str | None, b: str | None) -> dict[str, Any]: ...
    def models(self) -> list[dict[str, Any]]: ...
    def stats(self, path: str, rev: str | None) -> dict[str, Any]: ...
    def drift(self, path: str, a: str, b: str) -> dict[str, Any]: ...
    def queue(self, name: str | None) -> dict[str, Any]: ...


def need_web() -> None:
    try:
        import jinja2  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "`cairn ui` needs starlette, uvicorn and jinja2", "install them: pip install 'cairn[web]'"
        ) from None


def allowed_hosts(host: str) -> list[str]:
    """Host headers answered: the loopback names, and the bound address. A page on another site
    that points its own name at 127.0.0.1 (DNS rebinding) sends its own name and is refused."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]  # listening everywhere was asked for explicitly (the CLI warns)
    return sorted({*LOOPBACK, host.strip("[]"), f"[{host.strip('[]')}]" if ":" in host else host})


def create_app(source: Source, host: str = "127.0.0.1"):
    need_web()
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from cairn.metrics.html import VENDOR as VEGA

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["cell"] = _cell
    env.filters["size"] = _size
    env.filters["when"] = _when

    def page(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        body = env.get_template(template).render(repo=source.name, path=request.url.path, **ctx)
        return HTMLResponse(body, status_code=status)

    def failed(request: Request, e: CairnError) -> Response:
        status = 404 if isinstance(e, PathError) else 400
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": e.message, "hint": e.hint, "code": e.code}, status_code=status)
        if request.headers.get("HX-Request") == "true":  # swapped into the page, so a 200
            return page(request, "error.html", error=e, fragment=True)
        return page(request, "error.html", status, error=e, fragment=False)

    async def on_error(request: Request, exc: Exception) -> Response:
        return failed(request, exc)  # type: ignore[arg-type]

    async def not_found(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return page(request, "error.html", exc.status_code, error=None, detail=exc.detail, fragment=False)

    def home(request: Request) -> Response:
        return RedirectResponse("/experiments", status_code=307)

    def experiments(request: Request) -> Response:
        table, everything = source.experiments(), source.experiments(with_commits=True)
        return page(
            request,
            "experiments.html",
            columns=everything.columns,
            all_columns=everything.all_columns,
            total=len(table.rows),
            rows=len(everything.rows),
            size=PAGE_SIZE,
        )

    def experiments_api(request: Request) -> Response:
        q = request.query_params
        sort, order = _sort_of(q)
        filters = [f.strip() for f in (q.get("q") or "").split(" and ") if f.strip()]
        table = source.experiments(q.get("commits") == "1")
        doc = table.page(sort, order, filters, _int(q.get("page"), 1), _int(q.get("size"), PAGE_SIZE))
        return Response(json.dumps(doc, default=str, separators=(",", ":")), media_type="application/json")

    def compare(request: Request) -> Response:
        names = request.query_params.getlist("exp")
        doc = source.compare(names)
        return page(request, "compare.html", doc=doc, specs=[c["spec"] for c in doc["charts"]])

    def pipeline(request: Request) -> Response:
        return page(request, "pipeline.html", doc=source.pipeline())

    def lineage(request: Request) -> Response:
        path = request.query_params.get("path", "").strip()
        fragment = request.headers.get("HX-Request") == "true"
        doc = source.lineage(path) if path else None
        return page(request, "lineage.html", doc=doc, target=path, fragment=fragment)

    def trends(request: Request) -> Response:
        key = request.query_params.get("key") or None
        doc = source.trend(key, _int(request.query_params.get("last"), 20))
        return page(request, "trends.html", doc=doc, spec=doc.get("spec"))

    def data(request: Request) -> Response:
        q = request.query_params
        doc = source.data(q.get("path") or None, q.get("a") or None, q.get("b") or None)
        return page(request, "data.html", doc=doc)

    def stats(request: Request) -> Response:
        q = request.query_params
        doc = source.stats(q.get("path", ""), q.get("rev") or None)
        return page(request, "stats.html", doc=doc)

    def drift(request: Request) -> Response:
        q = request.query_params
        doc = source.drift(q.get("path", ""), q.get("a") or "HEAD", q.get("b") or "HEAD")
        return page(request, "drift.html", doc=doc)

    def models(request: Request) -> Response:
        return page(request, "models.html", models=source.models())

    def queue(request: Request) -> Response:
        doc = source.queue(request.query_params.get("name") or None)
        fragment = request.headers.get("HX-Request") == "true"
        return page(request, "queue.html", doc=doc, fragment=fragment)

    routes = [
        Route("/", home),
        Route("/experiments", experiments),
        Route("/api/experiments", experiments_api),
        Route("/compare", compare),
        Route("/pipeline", pipeline),
        Route("/lineage", lineage),
        Route("/trends", trends),
        Route("/data", data),
        Route("/data/stats", stats),
        Route("/data/drift", drift),
        Route("/models", models),
        Route("/queue", queue),
        Mount("/static/ui", StaticFiles(directory=VENDOR, check_dir=False), name="ui"),
        Mount("/static/vega", StaticFiles(directory=VEGA, check_dir=False), name="vega"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(host))],
        exception_handlers={CairnError: on_error, 404: not_found, 405: not_found},
    )


def _sort_of(q) -> tuple[str | None, str]:
    """Tabulator's `sort[0][field]=metrics.acc&sort[0][dir]=desc` (the first sorter wins)."""
    sorters: dict[int, dict[str, str]] = {}
    for key, value in q.multi_items():
        m = _SORT.match(key)
        if m:
            sorters.setdefault(int(m.group(1)), {})[m.group(2)] = value
    if not sorters:
        return q.get("sort") or None, _direction(q.get("dir"))
    first = sorters[min(sorters)]
    return first.get("field") or None, _direction(first.get("dir"))


def _direction(raw: str | None) -> str:
    """asc (the default) or desc; anything else is refused, not read as asc."""
    if raw in (None, "", "asc", "desc"):
        return raw or "asc"
    raise UserInputError(f"cannot sort in the direction {raw!r}", "dir=asc or dir=desc")


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cell(v: Any) -> str:
    from jinja2 import Undefined  # a key the record lacks

    if v is None or isinstance(v, Undefined):
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
