"""The desk's console pages and words: takedown staff and leads see them in their language,
everyone else gets 404; every state, step, kind, basis, purpose and channel the desk can show
has a word in every language; links in a victim's message become locations to start from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.config import Config
from hotline.domain.legal import LegalBasis, RequestField
from hotline.domain.platforms import RouteKind
from hotline.domain.removal import RequestState, Step
from hotline.domain.takedown import ItemKind, ItemStatus, OnlineState, Reporter
from hotline.takedown.items import CONSENT_PURPOSES, CONSENT_VIA, STAFF_ITEM_EVENTS
from hotline.takedown.prefill import links_in
from hotline.takedown.worklist import NO_REQUEST
from hotline.words import Words
from tests.conftest import AppRunner, Database, RedisProcess, make_config
from tests.takedown_support import DESK_DETAILS, EXPLANATION, Floor, floor, new_item, new_request

WORDS = Words()


@pytest.fixture
def config(tmp_path: Path, database: Database, redis_server: RedisProcess) -> Config:
    return make_config(tmp_path / "data", database.url, redis_server.url,
                       routing={"mode": "pull"}, takedown=DESK_DETAILS)


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


def _keys() -> list[str]:
    keys = [f"takedown.state_{s.value}" for s in RequestState]
    keys += [f"takedown.state_{NO_REQUEST}"]
    keys += [f"takedown.step_{s.value}" for s in Step]
    keys += [f"takedown.kind_{k.value}" for k in ItemKind]
    keys += [f"takedown.kind_{k.value}" for k in RouteKind]
    keys += [f"takedown.status_{s.value}" for s in ItemStatus]
    keys += [f"takedown.reporter_{r.value}" for r in Reporter]
    keys += [f"takedown.online_{o.value}" for o in OnlineState]
    keys += [f"takedown.basis_{b.value}" for b in LegalBasis]
    keys += [f"takedown.field_{f.value}" for f in RequestField]
    keys += [f"takedown.purpose_{p}" for p in CONSENT_PURPOSES]
    keys += [f"takedown.via_{v}" for v in CONSENT_VIA]
    keys += [f"takedown.event_{e}" for e in STAFF_ITEM_EVENTS]
    return keys


@pytest.mark.parametrize("lang", WORDS.languages)
def test_every_value_the_desk_shows_has_a_word(lang: str) -> None:
    assert [k for k in _keys() if not WORDS.has(lang, k)] == []


@pytest.mark.parametrize(("text", "urls"), [
    ("they posted it https://x.com/a/status/12?s=20 please", ["https://x.com/a/status/12"]),
    ("채널 t.me/leaks_here/5 에 올라왔어요", ["https://t.me/leaks_here/5"]),
    ("(see https://site.example/v/1).", ["https://site.example/v/1"]),
    ("tg://resolve?domain=leaks_here&post=9 and https://t.me/+8210 phone",
     ["https://t.me/leaks_here/9"]),
    ("no link here, only x.com", []),
    ("twice https://x.com/a/status/1 https://X.com/a/status/1", ["https://x.com/a/status/1"]),
])
def test_links_in_a_message(text: str, urls: list[str]) -> None:
    assert [loc.url for loc in links_in(text)] == urls


async def test_pages_for_the_desk_and_404_for_the_rest(desk_floor: Floor) -> None:
    f = desk_floor
    waiting = await (await f.tk.client.get("/console/takedown")).text()
    # The waiting case's reasons and the platforms in words of the page's language, not codes.
    shown = re.sub(r'<script[^>]*id="words">.*?</script>', "", waiting, flags=re.S)
    assert "지금 유포 중" in shown and "content_spreading" not in shown
    assert "기타 웹사이트" in shown and "Other website" not in shown
    item = await new_item(f.tk, case_id=f.case_id, alert_id=f.alert_id)
    req = await new_request(f.tk, item["id"], fields=EXPLANATION)
    pages = ("/console/takedown", f"/console/takedown/items/{item['id']}",
             f"/console/takedown/requests/{req['id']}")
    for path in pages:
        resp = await f.tk.client.get(path)
        text = await resp.text()
        assert resp.status == 200, (path, text)
        assert '<html lang="ko">' in text  # the centre's default language
    desk = await (await f.lead.client.get(pages[0])).text()
    assert "삭제 지원 업무" in desk and f.case_id[:8] not in desk  # the alert became an item
    page = await (await f.tk.client.get(pages[2])).text()
    assert EXPLANATION["explanation"].replace("'", "&#39;") in page
    for who in (f.counselor, f.admin):
        for path in pages:
            assert (await who.client.get(path)).status == 404, path
    assert (await f.tk.client.get("/console/takedown/items/99999")).status == 404
    assert (await f.tk.client.get("/console/takedown/requests/x1")).status == 404
