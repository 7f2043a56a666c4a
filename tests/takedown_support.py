"""The takedown desk's test floor: a running app with takedown staff, a lead, a counselor
holding an urgent case that paged takedown, and an admin; plus small API helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.cases import alerts
from hotline.domain.staff import Role
from hotline.takedown.api import DESK
from hotline.takedown.desk import Desk
from tests.conftest import AppRunner
from tests.floor import Staffer, add_override, deps_of, hold_jobs, staff, victim

DESK_DETAILS = {
    "requester": "Digital Sex Crime Victim Support Center, takedown desk",
    "signature": "Case officer 17, Victim Support Centre",
    "contact": "desk@centre.example, +82 2 0000 0000",
    "notifier_name": "Victim Support Centre takedown desk",
    "notifier_email": "desk@centre.example",
}
X_POST = "https://x.com/someone/status/1790000000000000001?s=20&utm_source=share"
EXPLANATION = {"explanation": "Her face was taken from a public profile photo; she never "
                              "agreed to any of this."}


@dataclass
class Floor:
    runner: AppRunner
    tk: Staffer
    tk2: Staffer
    lead: Staffer
    counselor: Staffer
    other_counselor: Staffer
    admin: Staffer
    case_id: str
    alert_id: int

    @property
    def desk(self) -> Desk:
        assert self.runner.server is not None
        return self.runner.server.app[DESK]


async def floor(runner: AppRunner) -> Floor:
    """Staff and an urgent case held by `counselor` that paged takedown (alert open)."""
    deps = deps_of(runner)
    await hold_jobs(deps, "router", "alerts", "takedown-deadlines")
    tk = await staff(runner, "tk", role=Role.TAKEDOWN)
    tk2 = await staff(runner, "tk2", role=Role.TAKEDOWN)
    lead = await staff(runner, "lead", role=Role.LEAD)
    counselor = await staff(runner, "co", role=Role.COUNSELOR)
    other = await staff(runner, "co2", role=Role.COUNSELOR)
    admin = await staff(runner, "admin", role=Role.ADMIN)
    now = datetime.now(UTC)
    for who in (tk, tk2):
        await add_override(lead, who.id, now - timedelta(hours=1), now + timedelta(hours=30),
                           True, "cover")
    _v, cid = await victim(runner, "they posted my video and it is spreading now")
    resp = await counselor.post(f"/api/v1/cases/{cid}/take")
    assert resp.status == 200, await resp.text()
    alert_id = await alerts.raise_takedown_alert(deps, cid, ("content_spreading",))
    if alert_id is None:  # the triage already paged takedown
        found = await alerts.open_alerts(deps, await _lead_staff(runner, lead.id))
        alert_id = next(a.id for a in found if a.conversation_id == cid)
    return Floor(runner, tk, tk2, lead, counselor, other, admin, cid, alert_id)


async def _lead_staff(runner: AppRunner, lead_id: int) -> Any:
    from hotline.domain.staff import Staff

    return Staff(lead_id, "lead", Role.LEAD, ("ko", "en"))


async def call(who: Staffer, method: str, path: str, body: dict[str, Any] | None = None
               ) -> tuple[int, Any]:
    if method == "GET":
        resp = await who.client.get(path)
    else:
        resp = await who.post(path, body)
    ctype = resp.headers.get("Content-Type", "")
    data = await resp.json() if ctype.startswith("application/json") else await resp.read()
    return resp.status, data


async def new_item(who: Staffer, **body: Any) -> dict[str, Any]:
    payload = {"kind": "synthetic", "platform": "x", "location": X_POST, **body}
    status, data = await call(who, "POST", "/api/v1/takedown/items", payload)
    assert status == 201, data
    assert isinstance(data, dict)
    return data


async def consent(who: Staffer, item_id: int, purpose: str = "platform_report",
                  given: bool = True) -> None:
    status, data = await call(who, "POST", f"/api/v1/takedown/items/{item_id}/consents",
                              {"purpose": purpose, "given": given, "via": "chat"})
    assert status == 201, data


async def new_request(who: Staffer, item_id: int, platform: str = "x",
                      route: str = "take_it_down", **body: Any) -> dict[str, Any]:
    status, data = await call(who, "POST", f"/api/v1/takedown/items/{item_id}/requests",
                              {"platform": platform, "route": route, **body})
    assert status == 201, data
    assert isinstance(data, dict)
    return data


async def step(who: Staffer, request_id: int, step_name: str, **body: Any
               ) -> tuple[int, Any]:
    return await call(who, "POST", f"/api/v1/takedown/requests/{request_id}/steps",
                      {"step": step_name, **body})
