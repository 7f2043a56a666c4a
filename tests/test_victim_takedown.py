"""The case page over the real takedown desk (SQLite and PostgreSQL): the victim sees each
request's state in plain words (platform names hidden when they choose), a link they add
becomes a location on the item, and withdrawing consent stops a draft request from being sent
(docs/victim.md, docs/takedown.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.config import Config
from hotline.victim import casecode
from tests.conftest import AppRunner, Database, RedisProcess
from tests.floor import audit, deps_of
from tests.takedown_support import (
    DESK_DETAILS,
    EXPLANATION,
    Floor,
    call,
    consent,
    floor,
    new_item,
    new_request,
    step,
)
from tests.victim_support import victim_config

NEW_LINK = "https://x.com/another/status/1790000000000000999"


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return victim_config(tmp_path / "data", database.url, redis_server.url,
                         routing={"mode": "pull"}, takedown=DESK_DETAILS)


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m
    return m.group(1)


async def test_case_page_over_the_desk(desk_floor: Floor, app_runner: AppRunner) -> None:
    f = desk_floor
    item = await new_item(f.tk, case_id=f.case_id)
    await consent(f.tk, item["id"])
    sent = await new_request(f.tk, item["id"], fields=EXPLANATION)
    assert (await step(f.tk, sent["id"], "sent"))[0] == 200
    draft = await new_request(f.tk, item["id"], fields=EXPLANATION)
    issued = await casecode.issue(deps_of(app_runner), f.case_id)

    browser = await app_runner.client()
    resp = await browser.post("/chat/case", data={
        "number": issued.case_number, "pin": issued.pin, "lang": "ko"}, allow_redirects=False)
    assert resp.status == 303
    page = await (await browser.get("/chat/case?lang=ko")).text()
    assert "콘텐츠 1: 삭제를 요청하고 있습니다" in page
    assert "X(트위터): 요청을 보냈고 답을 기다리고 있습니다" in page
    assert "X(트위터): 요청서를 준비하고 있습니다" in page
    # Someone may look over their shoulder: platform names hidden on request.
    await browser.post("/chat/case/platforms", data={"csrf": _csrf(page), "hide": "1"},
                       allow_redirects=False)
    page = await (await browser.get("/chat/case?lang=ko")).text()
    assert "X(트위터)" not in page and "한 플랫폼: 요청을 보냈고" in page

    # A link the victim found: a location on the item, for takedown staff.
    resp = await browser.post("/chat/case/link", data={
        "csrf": _csrf(page), "link": NEW_LINK, "lang": "ko"}, allow_redirects=False)
    assert resp.status == 303 and "done=link_location" in resp.headers["Location"]
    status, seen = await call(f.tk, "GET", f"/api/v1/takedown/items/{item['id']}")
    assert status == 200
    assert any("1790000000000000999" in loc["url"] for loc in seen["locations"])

    # Consent withdrawn: the draft cannot be sent any more.
    resp = await browser.post("/chat/case/consent", data={"csrf": _csrf(page)},
                              allow_redirects=False)
    assert resp.status == 303
    status, data = await step(f.tk, draft["id"], "sent")
    assert status == 409 and data["code"] == "consent_required"
    withdrawn = await audit(app_runner, "takedown.consent", str(item["id"]))
    assert withdrawn[-1]["detail"]["given"] is False
    assert withdrawn[-1]["detail"]["drafts_stopped"] == 1
    assert withdrawn[-1]["actor_id"] is None
    victims = await audit(app_runner, "case.consent_withdrawn", f.case_id)
    assert victims and victims[0]["detail"]["drafts_stopped"] == 1
