"""Clusters over the real app (SQLite and PostgreSQL): one Telegram channel named in two
victims' items is a cluster of two victims, listed for desk staff and leads (API and page),
its items higher on the worklist; one victim's site is not a cluster; others get 404."""

from __future__ import annotations

import pytest

from hotline.cases import alerts
from tests.conftest import AppRunner
from tests.floor import deps_of, victim
from tests.takedown_support import Floor, call, floor, new_item

CHANNEL = "telegram:channel:leakchan"


@pytest.fixture
async def desk_floor(app_runner: AppRunner) -> Floor:
    return await floor(app_runner)


async def test_a_channel_across_two_victims(desk_floor: Floor) -> None:
    f = desk_floor
    _v, other_case = await victim(f.runner, "my photos are on a telegram channel now")
    await alerts.raise_takedown_alert(deps_of(f.runner), other_case, ("content_spreading",))
    a = await new_item(f.tk, case_id=f.case_id, platform="telegram",
                       location="https://t.me/leakchan/5")
    b = await new_item(f.tk, case_id=other_case, platform="telegram",
                       location="https://t.me/LeakChan/9")
    found = await new_item(f.tk, platform="telegram", location="t.me/s/leakchan/11")
    lone = await new_item(f.tk, platform="other", location="https://lone.example/v/1")
    site = await new_item(f.tk, case_id=other_case, platform="other",
                          location="https://www.one-victim.example/a")
    status, listed = await call(f.tk, "GET", "/api/v1/takedown/clusters")
    assert status == 200
    assert listed == {"clusters": [{"key": CHANNEL, "victims": 2, "items": 3, "locations": 3,
                                    "reuploads": 0}], "next": None}
    _s, everyone = await call(f.lead, "GET", "/api/v1/takedown/clusters?min_victims=1")
    # By key; a staff-found item has no victim known, so lone.example has none.
    site_key = "site:one-victim.example"
    assert [c["key"] for c in everyone["clusters"]] == [site_key, CHANNEL]
    _s, paged = await call(f.lead, "GET", "/api/v1/takedown/clusters?min_victims=1&limit=1")
    assert [c["key"] for c in paged["clusters"]] == [site_key] and paged["next"] == site_key
    _s, rest = await call(f.lead, "GET",
                          f"/api/v1/takedown/clusters?min_victims=1&limit=1&after={site_key}")
    assert [c["key"] for c in rest["clusters"]] == [CHANNEL]
    _s, detail = await call(f.tk, "GET", f"/api/v1/takedown/clusters/items?key={CHANNEL}")
    assert sorted({r["item"] for r in detail["locations"]}) == sorted(
        [a["id"], b["id"], found["id"]])
    # The item shows its location's cluster.
    _s, item = await call(f.tk, "GET", f"/api/v1/takedown/items/{a['id']}")
    assert item["locations"][0]["cluster"] == CHANNEL
    # The worklist: a cluster's items before others alike (here: no case, nothing overdue).
    _s, work = await call(f.tk, "GET", "/api/v1/takedown/worklist")
    order = [w["item"] for w in work["worklist"]]
    assert order.index(found["id"]) < order.index(lone["id"])
    assert {w["item"]: w["cluster_victims"] for w in work["worklist"]}[found["id"]] == 2
    assert {w["item"]: w["cluster_victims"] for w in work["worklist"]}[site["id"]] == 1
    # Bad input names the field; others see nothing.
    for query, field in (("limit=0", "limit"), ("limit=x", "limit"), ("min_victims=0",
                         "min_victims"), ("nope=1", "nope")):
        status, body = await call(f.tk, "GET", f"/api/v1/takedown/clusters?{query}")
        assert (status, body["field"]) == (400, field)
    status, body = await call(f.tk, "GET", "/api/v1/takedown/clusters/items")
    assert (status, body["field"]) == (400, "key")
    for who in (f.counselor, f.admin):
        assert (await call(who, "GET", "/api/v1/takedown/clusters"))[0] == 404
        assert (await call(who, "GET", "/console/takedown/clusters"))[0] == 404
    status, page = await call(f.lead, "GET", "/console/takedown/clusters")
    assert status == 200 and CHANNEL.encode() in page
    assert f'/console/takedown/items/{b["id"]}'.encode() in page
