"""The experiments table behind the Experiments page: rows as `exp show` has them, sorted,
filtered and cut into pages here on the server, so the browser holds one page at a time however
many experiments there are. Filters use `exp show --filter`'s syntax: parsed, never evaluated."""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from itertools import chain
from operator import itemgetter
from typing import Any

from cairn.errors import UserInputError
from cairn.experiments import manage

FIXED = ("name", "baseline", "created", "status")
MAX_PAGE = 1000  # rows per page at most, whatever a request asks for
MAX_COLUMNS = 1000  # a metrics file of 100,000 keys must not make a page of 100,000 columns
_VIEWS = 8  # sorted/filtered orderings kept, so paging through one costs a slice
_TOP = 1000  # a page ending within the first rows of a new sort is cut from a partial sort
_ORDERS = 16  # sorted orders of a column kept: sorting by it again costs no sort

Row = dict[str, Any]


class ExperimentTable:
    """Rows of one state of the experiment index, with their sorted and filtered views cached."""

    def __init__(self, rows: list[Row], token: str = "") -> None:
        """`rows`: flat rows as `exp show --json` has them, oldest first."""
        self.rows = rows
        self.token = token  # what the rows were read from; a new token means a new table
        # as manage.columns has them (first seen first, exit_code shown within status), in one
        # pass: its list scan per key took seconds over 100,000 rows
        columns = [c for c in dict.fromkeys(chain.from_iterable(rows)) if c != "exit_code"]
        self._known = frozenset(columns)
        self.all_columns = len(columns)
        self.columns = columns[:MAX_COLUMNS]
        self._shown = set(self.columns) if len(columns) > MAX_COLUMNS else None
        self._views: OrderedDict[tuple, list[Row]] = OrderedDict()
        self._orders: OrderedDict[tuple[str, bool], list[Row]] = OrderedDict()
        self._lock = threading.Lock()

    def view(self, sort: str | None, order: str, filters: list[str]) -> list[Row]:
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
        if sort:
            ordered = self._sorted(sort, order == "desc")
            if filters:  # the column's order, kept to the matching rows: no sort of its own
                keep = {id(r) for r in rows}
                ordered = [r for r in ordered if id(r) in keep]
            rows = ordered
        else:
            rows = rows[::-1]  # rows come oldest first (by the exact time; `created` is to the second)
        with self._lock:
            self._views[key] = rows
            while len(self._views) > _VIEWS:
                self._views.popitem(last=False)
        return rows

    def _check(self, column: str) -> None:
        if column not in self._known:
            raise UserInputError(f"cannot sort by {column!r}: no such column", f"columns: {', '.join(self.columns)}")

    def _sorted(self, column: str, desc: bool) -> list[Row]:
        """Every row in `column`'s order, rows lacking it last (as `exp show --sort-by`: ties
        keep their order), kept for the last few columns sorted: the same sort again, or a
        filter within it, costs one pass and no sort."""
        key = (column, desc)
        with self._lock:
            hit = self._orders.get(key)
            if hit is not None:
                self._orders.move_to_end(key)
                return hit
        self._check(column)
        present = [r for r in self.rows if r.get(column) is not None]
        try:
            present.sort(key=itemgetter(column), reverse=desc)
        except TypeError:  # numbers and text in one column
            present.sort(key=lambda r: str(r[column]), reverse=desc)
        if len(present) < len(self.rows):
            present += [r for r in self.rows if r.get(column) is None]
        with self._lock:
            self._orders[key] = present
            while len(self._orders) > _ORDERS:
                self._orders.popitem(last=False)
        return present

    def page(self, sort: str | None, order: str, filters: list[str], page: int, size: int) -> dict[str, Any]:
        """One page (1-based) in the shape Tabulator's remote pagination reads: data, last_page,
        last_row; plus the total before filtering."""
        size = max(1, min(size, MAX_PAGE))
        page = max(1, page)
        top = self._top(sort, order == "desc", filters, page * size)
        if top is not None:
            rows, count = top
        else:
            rows = self.view(sort, order, filters)
            count = len(rows)
        last_page = max(1, -(-count // size))
        page = min(page, last_page)
        data = rows[(page - 1) * size : page * size]
        if self._shown is not None:  # only the columns the page has
            data = [{k: v for k, v in r.items() if k in self._shown} for r in data]
        return {"data": data, "last_page": last_page, "last_row": count, "total": len(self.rows)}

    def _top(self, sort: str | None, desc: bool, filters: list[str], k: int) -> tuple[list[Row], int] | None:
        """The first `k` rows of a sort not made yet, and how many rows match, by a partial sort
        (heapq: the same rows as sorted()[:k]) at half the cost of a whole one; None when the
        view or the column's order is already there, or `k` reaches past the first pages."""
        if not sort or k > _TOP:
            return None
        with self._lock:
            if (sort, "desc" if desc else "asc", tuple(filters)) in self._views or (sort, desc) in self._orders:
                return None
        self._check(sort)
        rows = self.rows
        for expr in filters:
            rows = manage.apply_filter(rows, expr)
        present = [r for r in rows if r.get(sort) is not None]
        pick = heapq.nlargest if desc else heapq.nsmallest
        try:
            top = pick(k, present, key=itemgetter(sort))
        except TypeError:  # numbers and text in one column
            top = pick(k, present, key=lambda r: str(r[sort]))
        if len(top) < k:
            top += [r for r in rows if r.get(sort) is None][: k - len(top)]
        return top, len(rows)
