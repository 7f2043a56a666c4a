"""The policy guard: every console route is checked against hotline/domain/policy.py before
its handler runs. A logged-in person whose role may not use the route gets 404, as for a
missing record; without a session the handler answers (401 or the login page) as before."""

from __future__ import annotations

from aiohttp import web

from hotline.console.auth import Handler, current_staff
from hotline.domain import policy
from hotline.web.middleware import json_error


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else ""
    if policy.is_staff_route(path):
        found = await current_staff(request)
        if found is not None and not policy.may_use_route(found[0].role, request.method, path):
            if path.startswith("/api/"):
                raise json_error(404, "not found")
            raise web.HTTPNotFound(text="Not found.")
    return await handler(request)
