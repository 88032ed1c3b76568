"""The experiments table behind the Experiments page: rows as `exp show` has them, sorted,
filtered and cut into pages here on the server, so the browser holds one page at a time however
many experiments there are. Filters use `exp show --filter`'s syntax: parsed, never evaluated."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from cairn.experiments import manage

FIXED = ("name", "baseline", "created", "status")
MAX_PAGE = 1000  # rows per page at most, whatever a request asks for
MAX_COLUMNS = 1000  # a metrics file of 100,000 keys must not make a page of 100,000 columns
_VIEWS = 8  # sorted/filtered orderings kept, so paging through one costs a slice


class ExperimentTable:
    """Rows of one state of the experiment index, with their sorted and filtered views cached."""

    def __init__(self, rows: list[dict[str, Any]], token: str = "") -> None:
        """`rows`: flat rows as `exp show --json` has them, oldest first."""
        self.rows = rows
        self.token = token  # what the rows were read from; a new token means a new table
        columns = manage.columns(rows, only_changed=False)
        self.all_columns = len(columns)
        self.columns = columns[:MAX_COLUMNS]
        self._shown = set(self.columns) if len(columns) > MAX_COLUMNS else None
        self._views: OrderedDict[tuple, list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, sort: str | None, order: str, filters: list[str]) -> list[dict[str, Any]]:
        """The rows matching every filter, sorted by `sort` (rows lacking it last), newest first
        by default; UserInputError for a filter that does not parse or names no column."""
        key = (sort, order, tuple(filters))
        with self._lock:
            hit = self._views.get(key)
            if hit is not None:
                self._views.move_to_end(key)
                return hit
        rows = self.rows
        for expr in filters:
            rows = manage.apply_filter(rows, expr)
        # rows come oldest first (by the exact time; `created` is shown to the second)
        rows = manage.sort_rows(rows, sort, order) if sort else rows[::-1]
        with self._lock:
            self._views[key] = rows
            while len(self._views) > _VIEWS:
                self._views.popitem(last=False)
        return rows

    def page(self, sort: str | None, order: str, filters: list[str], page: int, size: int) -> dict[str, Any]:
        """One page (1-based) in the shape Tabulator's remote pagination reads: data, last_page,
        last_row; plus the total before filtering."""
        size = max(1, min(size, MAX_PAGE))
        rows = self.view(sort, order, filters)
        last_page = max(1, -(-len(rows) // size))
        page = max(1, min(page, last_page))
        data = rows[(page - 1) * size : page * size]
        if self._shown is not None:  # only the columns the page has
            data = [{k: v for k, v in r.items() if k in self._shown} for r in data]
        return {"data": data, "last_page": last_page, "last_row": len(rows), "total": len(self.rows)}
