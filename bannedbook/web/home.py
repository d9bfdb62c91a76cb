"""The home page without Datasette's per-table work on every request.

Datasette's index view lists every database's tables, and for each table
asks whether the visitor may see it: a query and a deep copy of the whole
metadata per table, two dozen of them here (the search index's shadow
tables count), about half of what the home page cost before
(docs/benchmarks.md, pages). The archive is served immutable, so the list a
visitor is shown never changes while the server runs: it is computed once
per visitor identity (the actor; every anonymous visitor is one) by
Datasette's own view, as `/.json`, and kept. The page is then rendered
from it as Datasette renders it, from templates/home.html (index.html under
another name: see there). A database that can change, or any other format
than HTML, goes to Datasette's view as before.
"""

from __future__ import annotations

import json
import weakref

from datasette import hookimpl
from datasette.utils.asgi import Request
from datasette.version import __version__
from datasette.views.index import IndexView

_LISTINGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # datasette -> {key: databases}
MAX_LISTINGS = 64  # distinct actors remembered; past that the oldest is dropped


def _key(datasette, actor: dict | None) -> tuple | None:
    """What the listing depends on, or None when it may change (a database
    that can be written to)."""
    databases = [(name, db.hash) for name, db in datasette.databases.items() if name != "_internal"]
    if any(db.is_mutable for name, db in datasette.databases.items() if name != "_internal"):
        return None
    return (json.dumps(actor, sort_keys=True, default=str), tuple(databases))


class HomeView(IndexView):
    """Datasette's index view, its database list kept for immutable databases."""

    async def get(self, request):
        if request.url_vars.get("format"):
            return await super().get(request)
        await self.ds.ensure_permissions(request.actor, ["view-instance"])
        return await self.render(["home.html"], request=request, context={
            "databases": await self.databases(request),
            "metadata": self.ds.metadata(),
            "datasette_version": __version__,
            "private": not await self.ds.permission_allowed(None, "view-instance", default=True),
        })  # fmt: skip

    async def databases(self, request) -> list[dict]:
        key = _key(self.ds, request.actor)
        known = _LISTINGS.setdefault(self.ds, {})
        if key is not None and key in known:
            return known[key]
        as_json = Request(dict(request.scope, url_route={"kwargs": {"format": "json"}}), request.receive)
        listing = list(json.loads((await super().get(as_json)).body).values())
        if key is not None:
            if len(known) >= MAX_LISTINGS:
                known.pop(next(iter(known)))
            known[key] = listing
        return listing


@hookimpl
def register_routes(datasette) -> list:
    # Plugin routes are tried before Datasette's: this one takes "/" alone.
    return [(r"^/$", HomeView.as_view(datasette))]
