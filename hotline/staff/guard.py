"""The policy guard: every console route is checked against hotline/domain/policy.py before
its handler runs. A logged-in person whose role may not use an API route gets 404, as for a
missing record; a console page they may not open answers the "not for your role" page (403:
the pages themselves are no secret). Without a session the handler answers (401 or the login
page) as before."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hotline.domain import policy
from hotline.staff.auth import Handler, current_staff
from hotline.web import i18n
from hotline.web.middleware import json_error


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else ""
    if policy.is_staff_route(path):
        found = await current_staff(request)
        if found is not None and not policy.may_use_route(found[0].role, request.method, path):
            staff, csrf = found
            if request.method != "GET" or not path.startswith("/console"):
                raise json_error(404, "not found")
            return aiohttp_jinja2.render_template(
                "console/forbidden.html", request,
                {"staff": staff, "csrf": csrf, "lang": i18n.staff_language(request, staff)},
                status=403)
    return await handler(request)
