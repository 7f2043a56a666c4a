"""The web chat's way back and onward, over real HTTP, Redis and SQL (SQLite and PostgreSQL):
a case number and PIN on request, the case page with its two-level lockout, a return linked to
its case, links and consent withdrawal from the case page, erasure that leaves the intake
record, referrals at close, and evidence as fingerprints only (docs/victim.md)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hotline.victim import casecode
from tests.conftest import AppRunner, Database, RedisProcess
from tests.helpers import Counselor, Victim, add_staff
from tests.telegram_standin import stored_anywhere
from tests.victim_support import rows, victim_config

LINK = "https://example.org/leak/photo-123?utm_source=share"


@pytest.fixture
async def site(tmp_path: Path, database: Database, redis_server: RedisProcess
               ) -> AsyncIterator[AppRunner]:
    runner = AppRunner(victim_config(tmp_path / "data", database.url, redis_server.url))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _issue(victim: Victim) -> tuple[str, str]:
    resp = await victim.client.post("/chat/api/case", headers={"X-CSRF-Token": victim.csrf},
                                    json={"language": "ko"})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["case_number"] in body["text"] and body["pin"] in body["text"]
    assert "사건 번호" in body["text"]
    return body["case_number"], body["pin"]


async def _lookup(client: TestClient[Any, Any], number: str, pin: str,
                  address: str = "203.0.113.7") -> Any:
    return await client.post("/chat/case", data={"number": number, "pin": pin, "lang": "ko"},
                             headers=_from(address), allow_redirects=False)


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, page
    return m.group(1)


async def _closed_case(site: AppRunner, text: str = "someone shared my photo, I am 15"
                       ) -> tuple[Victim, str, str, str]:
    """A victim who wrote, got a case number, and whose case a counselor closed."""
    await add_staff(site.config, "mina")
    victim = Victim(await site.client())
    await victim.open("ko")
    assert (await victim.send(text, lang="ko")).status == 201
    number, pin = await _issue(victim)
    counselor = Counselor(await site.client())
    assert await counselor.login("mina") == 303
    cid = await counselor.take_next()
    assert (await counselor.close(cid)).status == 200
    return victim, number, pin, cid


async def test_case_number_referrals_and_case_page(site: AppRunner) -> None:
    victim, number, pin, _cid = await _closed_case(site)
    state = await victim.state()
    assert state["state"] == "closed"
    # A minor is always given the youth lines, first; the record counts what was given.
    assert any("1388" in line for line in state["referrals"][:2])
    assert any("117" in line for line in state["referrals"][:2])
    [record] = await rows(site.config, "intake_records")
    assert {"youth1388", "report117"} <= set(record["referred_to"].split(","))

    other = await site.client()  # another browser, later
    page = await other.get("/chat/case?lang=ko")
    assert page.status == 200 and "사건 번호" in await page.text()
    assert (await _lookup(other, number, "000000")).status == 403
    resp = await _lookup(other, number.lower().replace("-", " "), pin)
    assert resp.status == 303
    page = await other.get("/chat/case?lang=ko")
    text = await page.text()
    assert number in text and "마지막 상담은 끝났습니다" in text
    assert "아직 삭제 요청을 하지 않았습니다" in text  # no takedown item yet
    assert "1388" in text


async def test_bad_lookup_input_names_the_field(site: AppRunner) -> None:
    client = await site.client()
    resp = await client.post("/chat/case", data={"number": "", "pin": "1"},
                             allow_redirects=False)
    assert resp.status == 400 and 'id="case-number" name="number"' in await resp.text()
    resp = await client.post("/chat/case", data={"number": "HL-1", "pin": "1" * 40},
                             allow_redirects=False)
    assert resp.status == 400
    resp = await client.post("/chat/case", data={"number": "x", "pin": "1"},
                             headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False)
    assert resp.status == 403
    # Actions without a case cookie go back to the look-up form; nothing changes.
    resp = await client.post("/chat/case/link", data={"link": LINK}, allow_redirects=False)
    assert resp.status == 303
    assert await rows(site.config, "case_requests") == []


async def test_lockout_per_case_spares_the_victims_own_browser(site: AppRunner) -> None:
    _victim, number, pin, _cid = await _closed_case(site)
    # The victim's browser opens the case once: it holds the device proof from now on.
    mine = await site.client()
    assert (await _lookup(mine, number, pin, "198.51.100.1")).status == 303
    # Strangers on several addresses try wrong PINs: after five the case locks.
    stranger = await site.client()
    for i in range(casecode.MAX_FAILURES):
        assert (await _lookup(stranger, number, f"{i:06d}", f"203.0.113.{i}")).status == 403
    locked = await _lookup(stranger, number, pin, "203.0.113.99")
    assert locked.status == 423 and "잠시 확인할 수 없습니다" in await locked.text()
    # ... but not for the victim's own browser, even with the right PIN typed again.
    assert (await _lookup(mine, number, pin, "198.51.100.1")).status == 303
    [row] = await rows(site.config, "case_codes")
    assert row["locks"] == 0 and row["locked_until"] is None  # a right PIN resets the lock


async def test_lockout_per_client_across_cases(site: AppRunner) -> None:
    client = await site.client()
    for i in range(casecode.CLIENT_MAX_FAILURES):
        resp = await _lookup(client, f"HL-{i:04d}-0000", "123456", "203.0.113.50")
        assert resp.status == 403
    refused = await _lookup(client, "HL-0000-0000", "123456", "203.0.113.50")
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    # Another address is not held back by that one.
    assert (await _lookup(client, "HL-0000-0000", "123456", "203.0.113.51")).status == 403


async def test_return_is_linked_to_its_case(site: AppRunner) -> None:
    victim, number, pin, root = await _closed_case(site)
    assert (await _lookup(victim.client, number, pin)).status == 303
    page = await victim.client.get("/chat/case?lang=ko")
    csrf = _csrf(await page.text())
    resp = await victim.client.post("/chat/case/return", data={
        "csrf": csrf, "text": "다른 사이트에도 올라왔어요", "lang": "ko"},
        allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/chat")
    convs = await rows(site.config, "conversations")
    [new] = [c for c in convs if c["id"] != root]
    assert new["return_of"] == root and new["status"] == "waiting"
    counselor = Counselor(await site.client())
    assert await counselor.login("mina") == 303
    assert await counselor.take_next() == new["id"]
    case = await counselor.case(new["id"])
    assert case["return_of"] == root
    assert any(number in (m["text"] or "") for m in case["messages"])
    actions = [a["action"] for a in await rows(site.config, "audit_events")]
    assert "case.returned" in actions and "case_code.used" in actions
    # The victim's chat shows the new conversation; the case page now says it is open.
    assert (await victim.state())["state"] == "active"
    text = await (await victim.client.get("/chat/case?lang=ko")).text()
    assert "상담이 아직 열려 있습니다" in text


async def test_link_and_consent_from_the_case_page(site: AppRunner) -> None:
    victim, number, pin, root = await _closed_case(site)
    assert (await _lookup(victim.client, number, pin)).status == 303
    csrf = _csrf(await (await victim.client.get("/chat/case?lang=ko")).text())
    bad = await victim.client.post("/chat/case/link", data={
        "csrf": csrf, "link": "javascript:alert(1)", "lang": "ko"}, allow_redirects=False)
    assert bad.status == 400 and "웹 주소가 아닌 것 같아요" in await bad.text()
    wrong = await victim.client.post("/chat/case/link", data={"csrf": "x", "link": LINK},
                                     allow_redirects=False)
    assert wrong.status == 403
    assert await rows(site.config, "case_requests") == []
    ok = await victim.client.post("/chat/case/link", data={
        "csrf": csrf, "link": LINK, "lang": "ko"}, allow_redirects=False)
    assert ok.status == 303 and "done=link_note" in ok.headers["Location"]
    [req] = await rows(site.config, "case_requests")
    assert req["kind"] == "link" and req["conversation_id"] == root
    assert await stored_anywhere(site.config, "example.org/leak") == []  # sealed
    resp = await victim.client.post("/chat/case/consent", data={"csrf": csrf, "lang": "ko"},
                                    allow_redirects=False)
    assert resp.status == 303
    text = await (await victim.client.get(resp.headers["Location"])).text()
    assert "동의를 철회했습니다" in text and "링크 1개" in text
    kinds = sorted(r["kind"] for r in await rows(site.config, "case_requests"))
    assert kinds == ["consent_withdrawn", "link"]


async def test_erase_leaves_only_the_intake_record(site: AppRunner) -> None:
    victim = Victim(await site.client())
    await victim.open("ko")
    assert (await victim.send("Wombat-7781 지워 주세요", lang="ko")).status == 201
    await _issue(victim)
    headers = {"X-CSRF-Token": victim.csrf}
    assert (await victim.client.post("/chat/api/erase", headers=headers,
                                     json={})).status == 400
    resp = await victim.client.post("/chat/api/erase", headers=headers, json={"confirm": True})
    assert resp.status == 200 and (await resp.json())["erased"] == 1
    assert await stored_anywhere(site.config, "Wombat-7781") == []
    assert await rows(site.config, "case_codes") == []
    [record] = await rows(site.config, "intake_records")
    assert record["outcome"] == "disconnected" and record["pseudonym"].startswith("erased:")
    # The old chat session is over: a reload is a new, empty chat.
    assert (await victim.client.get("/chat/api/state")).status == 401


async def test_evidence_fingerprints_only_then_the_file_by_choice(site: AppRunner) -> None:
    victim = Victim(await site.client())
    await victim.open("en")
    headers = {"X-CSRF-Token": victim.csrf}
    data = secrets.token_bytes(2000)
    sha = hashlib.sha256(data).hexdigest()
    body = {"client_id": "ev-client-1", "sha256": sha, "mime": "image/png",
            "size_bytes": len(data), "pdq": "f" * 64, "pdq_quality": 80, "where": LINK}
    first = await victim.client.post("/chat/api/evidence", headers=headers, json=body)
    assert first.status == 409  # no conversation yet
    assert (await victim.send("here is what they posted")).status == 201
    for field, value in (("sha256", "XYZ"), ("mime", "text/html"), ("size_bytes", -1),
                         ("pdq", "zz"), ("pdq_quality", 101)):
        bad = await victim.client.post("/chat/api/evidence", headers=headers,
                                       json={**body, field: value})
        assert bad.status == 400 and field in (await bad.json())["error"]
    resp = await victim.client.post("/chat/api/evidence", headers=headers, json=body)
    assert resp.status == 201
    eid = (await resp.json())["id"]
    again = await victim.client.post("/chat/api/evidence", headers=headers, json=body)
    assert (await again.json()) == {"id": eid, "duplicate": True}
    [row] = await rows(site.config, "evidence")
    assert row["sha256"] == sha and row["pdq"] == "f" * 64 and row["consent"] == "pending"
    assert await rows(site.config, "evidence_files") == []
    wrong = await victim.client.post(f"/chat/api/evidence/{eid}/file", headers=headers,
                                     data=data[::-1])
    assert wrong.status == 400
    other = Victim(await site.client())
    await other.open("en")
    theirs = await other.client.post(f"/chat/api/evidence/{eid}/file",
                                     headers={"X-CSRF-Token": other.csrf}, data=data)
    assert theirs.status == 404
    kept = await victim.client.post(f"/chat/api/evidence/{eid}/file", headers=headers,
                                    data=data)
    assert kept.status == 201
    [blob] = await rows(site.config, "evidence_files")
    assert data not in blob["blob_sealed"]





async def test_counselor_gives_a_referral_from_the_case_page(site: AppRunner) -> None:
    await add_staff(site.config, "mina")
    victim = Victim(await site.client())
    await victim.open("ko")
    assert (await victim.send("그 사람이 집 주소를 올렸고 찾아오겠대요", lang="ko")).status == 201
    counselor = Counselor(await site.client())
    assert await counselor.login("mina") == 303
    cid = await counselor.take_next()
    listed = await (await counselor.client.get(f"/api/v1/cases/{cid}/referrals")).json()
    assert "referrals" in listed, listed
    codes = [r["code"] for r in listed["referrals"]]
    fitting = [r["code"] for r in listed["referrals"] if r["fits"]]
    assert fitting == codes[:len(fitting)] and "police112" in fitting
    assert "youth1388" not in fitting  # not a minor
    bad = await counselor.post(f"/api/v1/cases/{cid}/referrals", {"code": "nope"})
    assert bad.status == 400 and "code" in (await bad.json())["error"]
    missing = await counselor.post("/api/v1/cases/" + "0" * 32 + "/referrals",
                                   {"code": "legalaid132"})
    assert missing.status == 404
    sent = await counselor.post(f"/api/v1/cases/{cid}/referrals", {"code": "legalaid132"})
    assert sent.status == 201
    again = await counselor.post(f"/api/v1/cases/{cid}/referrals", {"code": "legalaid132"})
    assert (await again.json())["seq"] == (await sent.json())["seq"]  # once per entry
    state = await victim.state()
    assert any("대한법률구조공단 132" in (m["text"] or "") for m in state["messages"])
    assert (await counselor.close(cid)).status == 200
    [record] = await rows(site.config, "intake_records")
    assert "legalaid132" in record["referred_to"].split(",")
    actions = [a["action"] for a in await rows(site.config, "audit_events")]
    assert "case.referral_given" in actions
