"""The bounded floor (issue 18) on SQLite and PostgreSQL with a real Redis: /api/v1/queue,
/api/v1/floor and its pages, and `hotline queue`, each a page at a time with a cursor. Paging
through a list gives every case once, in queue order (urgency, then longest wait, offers in
their place); the counts are the whole floor's; bad paging input is a 400 naming the field."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from hotline.cases import conversations as convs
from hotline.cases import floorview
from hotline.cases import staffing as agent_sync
from hotline.cases.live_records import Waiting
from hotline.cases.tables import conversations
from hotline.deps import Deps
from hotline.domain.conversation import Channel, Urgency, queue_score
from hotline.domain.staff import Role
from tests.conftest import AppRunner
from tests.floor import Staffer, deps_of, hold_jobs, staff
from tests.helpers import statements_seen

WAITING = 120


async def _seed(deps: Deps, n: int, seed: int = 7) -> list[Waiting]:
    """n waiting cases in SQL and in the live queue, of mixed urgency, language and channel."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    made = []
    for i in range(n):
        at = now - timedelta(seconds=rng.randint(1, 500), milliseconds=i)
        w = Waiting(convs.new_conversation_id(), rng.choice([Channel.WEBCHAT, Channel.SMS]),
                    rng.choice(["ko", "en"]),
                    rng.choice([Urgency.CRITICAL, Urgency.HIGH, Urgency.NORMAL]),
                    int(at.timestamp() * 1000))
        made.append(w)
    async with deps.engine.begin() as conn:
        await conn.execute(insert(conversations), [{
            "id": w.conversation_id, "channel": w.channel.value, "pseudonym": w.conversation_id,
            "language": w.language, "status": "waiting", "urgency": w.urgency.value,
            "created_at": datetime.fromtimestamp(w.enqueued_ms / 1000, UTC),
            "enqueued_at": datetime.fromtimestamp(w.enqueued_ms / 1000, UTC),
            "last_activity_at": now} for w in made])
    for w in made:
        await deps.live.enqueue(w)
    return made


def _order(items: list[Waiting]) -> list[str]:
    return [w.conversation_id for w in sorted(
        items, key=lambda w: (queue_score(w.urgency, w.enqueued_ms), w.conversation_id))]


async def _get(who: Staffer, path: str, status: int = 200) -> Any:
    resp = await who.client.get(path)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _floor_world(app_runner: AppRunner) -> tuple[Deps, Staffer, Staffer, list[Waiting]]:
    deps = deps_of(app_runner)
    await hold_jobs(deps, "router", "aging", "reconciler")
    lead = await staff(app_runner, "lee", Role.LEAD)
    mina = await staff(app_runner, "mina", max_chats=10)
    return deps, lead, mina, await _seed(deps, WAITING)


async def test_queue_pages_give_every_case_once_in_queue_order(app_runner: AppRunner) -> None:
    deps, _lead, mina, made = await _floor_world(app_runner)
    await agent_sync.sync_one(deps, mina.id)
    # Two cases out on offer keep their place in the list, with whom they are offered to.
    offered = [made[3].conversation_id, made[40].conversation_id]
    for cid in offered:
        assert (await deps.live.offer(cid, mina.id, 2**50)).ok
    seen: list[dict[str, Any]] = []
    after = ""
    pages = 0
    while True:
        page = await _get(mina, "/api/v1/queue?limit=50" + (f"&after={after}" if after else ""))
        pages += 1
        assert len(page["waiting"]) <= 50
        assert page["total"] == WAITING
        assert sum(page["by_urgency"].values()) == WAITING
        # Whom the page's offers are out to, by name (the console shows the name).
        assert page["names"] == {str(w["offered_to"]): "mina"
                                 for w in page["waiting"] if w["offered_to"]}
        seen += page["waiting"]
        if page["next"] is None:
            break
        after = page["next"]
    assert pages == 3
    assert [w["id"] for w in seen] == _order(made)
    assert {w["id"]: w["offered_to"] for w in seen if w["offered_to"]} == {
        cid: mina.id for cid in offered}
    counts = {u.value: sum(1 for w in made if w.urgency == u) for u in Urgency}
    assert page["by_urgency"] == counts
    # The default is the first 50.
    first = await _get(mina, "/api/v1/queue")
    assert [w["id"] for w in first["waiting"]] == _order(made)[:50]


async def test_consoles_asking_together_get_the_page_encoded_once(app_runner: AppRunner
                                                                   ) -> None:
    """Two hundred consoles read the queue after the same event: the page is read once and
    encoded as JSON once, every console sent the same bytes (one loop turn wakes them all)."""
    deps, _lead, mina, made = await _floor_world(app_runner)
    bodies = await asyncio.gather(*(floorview.queue_json(deps, 50, None) for _ in range(20)))
    assert all(b is bodies[0] for b in bodies)
    assert [w["id"] for w in json.loads(bodies[0])["waiting"]] == _order(made)[:50]
    resp = await mina.client.get("/api/v1/queue")
    assert resp.content_type == "application/json"
    assert (await resp.json())["total"] == WAITING


def _stable(answer: dict[str, Any]) -> str:
    """What two reads a moment apart agree on: the counts, and which groups lack cover (the
    waits and the cover's times move with the clock)."""
    if "summary" in answer:
        return json.dumps(answer["summary"]["by_urgency"], sort_keys=True)
    return json.dumps(sorted((g["language"], g["channel"]) for g in answer["gaps"]))


async def test_leads_asking_together_share_one_read_of_the_floor_and_of_the_cover(
        app_runner: AppRunner) -> None:
    """Every lead page reads its floor and the roster's cover after the same events (in a
    surge, every new case): asked together, each is read at most twice for the five (one read
    for those who asked first, one for those who asked while it ran), and each lead gets the
    same answer; a case queued before the next ask is in the next answer.

    On a loaded host the five asks can reach the server spread over more than one read's
    time (a CI run saw three reads once): the sharing shows in the best of three tries."""
    deps, lead, _mina, _made = await _floor_world(app_runner)
    leads = [lead] + [await staff(app_runner, f"lead{i}", Role.LEAD) for i in range(4)]
    for path, counted in (("/api/v1/floor", "GROUP BY"), ("/api/v1/roster/cover", "GROUP BY")):
        reads: list[int] = []
        while len(reads) < 3 and not (reads and reads[-1] <= 2):
            with statements_seen(deps.reads, counted) as seen:
                answers = await asyncio.gather(*(_get(who, path) for who in leads))
            reads.append(len(seen))
            assert len({_stable(a) for a in answers}) == 1, path
        assert 1 <= min(reads) <= 2, (path, reads)
    more = await _seed(deps, 1, seed=8)
    floor = await _get(leads[1], "/api/v1/floor")
    assert floor["summary"]["waiting"] == WAITING + 1
    assert more[0].language in {g["language"] for g in floor["summary"]["groups"]}


async def test_the_floor_is_a_summary_and_first_pages(app_runner: AppRunner) -> None:
    deps, lead, mina, made = await _floor_world(app_runner)
    floor = await _get(lead, "/api/v1/floor?limit=10")
    summary = floor["summary"]
    assert summary["waiting"] == summary["unassigned"] == WAITING
    assert summary["by_urgency"] == {u.value: sum(1 for w in made if w.urgency == u)
                                     for u in Urgency}
    groups = {(g["language"], g["channel"]): g for g in summary["groups"]}
    for (lang, chan), g in groups.items():
        mine = [w for w in made if (w.language, w.channel.value) == (lang, chan)]
        assert g["waiting"] == len(mine) == sum(g["by_urgency"].values())
        assert g["oldest_waited_seconds"] >= 1
    assert sum(g["waiting"] for g in summary["groups"]) == WAITING
    assert [w["id"] for w in floor["unassigned"]] == _order(made)[:10]
    assert floor["unassigned_next"] is not None
    assert summary["staff"] == 2 and floor["agents_next"] is None
    assert {a["id"] for a in floor["agents"]} == {lead.id, mina.id}
    # The next page of a floor list.
    more = await _get(lead, f"/api/v1/floor/unassigned?limit=10&after={floor['unassigned_next']}")
    assert [w["id"] for w in more["items"]] == _order(made)[10:20]
    assert more["total"] == WAITING
    # Staff a page at a time, by id.
    staff_page = await _get(lead, "/api/v1/floor/agents?limit=1")
    assert [a["id"] for a in staff_page["items"]] == [min(lead.id, mina.id)]
    rest = await _get(lead, f"/api/v1/floor/agents?limit=1&after={staff_page['next']}")
    assert [a["id"] for a in rest["items"]] == [max(lead.id, mina.id)]
    assert rest["next"] is None
    # Active cases, longest held first, a page at a time.
    taken = _order(made)[:5]
    for cid in taken:
        assert (await deps.live.claim(cid, mina.id)).ok
        async with deps.engine.begin() as conn:
            assert await convs.assign(conn, cid, mina.id, datetime.now(UTC))
    held: list[str] = []
    after = ""
    while True:
        page = await _get(lead, "/api/v1/floor/active?limit=2"
                          + (f"&after={after}" if after else ""))
        assert page["total"] == 5
        held += [a["id"] for a in page["items"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert held == taken
    floor = await _get(lead, "/api/v1/floor?limit=10")
    assert floor["summary"]["active"] == 5
    assert floor["summary"]["waiting"] == WAITING - 5
    # Whoever holds a case is named in the answer itself (the page has no directory); nobody
    # else is.
    assert floor["names"] == {str(mina.id): "mina"}
    assert {a["counselor"] for a in floor["active"]} == {mina.id}
    assert page["names"] == {str(mina.id): "mina"}
    assert (await _get(lead, "/api/v1/floor/unassigned?limit=3"))["names"] == {}


async def test_bad_paging_input_is_a_400_naming_the_field(app_runner: AppRunner) -> None:
    _deps, lead, mina, _made = await _floor_world(app_runner)
    for path, field in [("/api/v1/queue?limit=0", "limit"), ("/api/v1/queue?limit=201", "limit"),
                        ("/api/v1/queue?limit=x", "limit"), ("/api/v1/queue?after=%25", "after"),
                        ("/api/v1/queue?after=12", "after"),
                        ("/api/v1/queue?after=99999999999999999.ab", "after"),
                        ("/api/v1/floor?limit=500", "limit"),
                        ("/api/v1/floor/active?after=abc.def", "after"),
                        ("/api/v1/floor/agents?after=1.2", "after"),
                        # Digits to str.isdigit, not to int(): was a 500.
                        ("/api/v1/floor/agents?after=%C2%B9", "after"),
                        ("/api/v1/floor/agents?after=%EF%BC%93", "after"),
                        ("/api/v1/floor/unassigned?after=" + "a" * 101, "after")]:
        body = await _get(lead, path, 400)
        assert body["error"].startswith(field), (path, body)
    # A counselor sees the queue, not the lead's floor (forbidden looks like missing).
    await _get(mina, "/api/v1/floor/active", 404)
    await _get(mina, "/api/v1/floor", 404)
