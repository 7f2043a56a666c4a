"""The running app of the route fuzz (tests/test_fuzz_routes.py): its parties' browsers, the
ids requests can name, and a raw HTTP sender (any bytes in the request line, headers, body)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from twilio.request_validator import RequestValidator

from hotline.cases.tables import alerts, conversations, shift_overrides, shifts
from hotline.domain.staff import Role
from hotline.limits.tables import bans
from hotline.takedown.tables import takedown_alerts, takedown_items, takedown_requests
from hotline.web.appkeys import DEPS
from tests.conftest import AppRunner
from tests.fuzz_strategies import Identity, Request, World
from tests.helpers import Counselor, Victim, add_staff
from tests.telegram_standin import SECRET as TG_SECRET
from tests.twilio_support import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL

METRICS_TOKEN = "fuzz-metrics-token-Quagga-4471"
TG_CHAT = 7_305_550_123
# The staff parties and their roles.
PARTIES = {"lead": Role.LEAD, "counselor": Role.COUNSELOR, "admin": Role.ADMIN}


class Fuzz:
    """The app with every channel on, its parties' browsers, and what requests can name."""

    def __init__(self, runner: AppRunner) -> None:
        self.runner = runner
        self.staff: dict[str, Counselor] = {}  # by party
        self.names: dict[str, str] = {}
        self.victim: Victim | None = None
        self.login_client: Any = None
        self.world = World(parties={}, case_ids=[], staff_ids=[], small_ids=[], call_sids=[],
                           login_csrf="", public_url=PUBLIC_URL, twilio_token=AUTH_TOKEN,
                           telegram_secret=TG_SECRET, metrics_token=METRICS_TOKEN,
                           telegram_chat=TG_CHAT)

    @property
    def deps(self) -> Any:
        assert self.runner.server is not None
        return self.runner.server.app[DEPS]

    async def setup(self) -> None:
        for party, role in PARTIES.items():
            await self._account(party, role)
        mina = self.staff["counselor"]
        for text in ("a case for mina", "a waiting case"):
            v = Victim(await self.runner.client())
            await v.open()
            assert (await v.send(text)).status == 201
            if self.victim is None:
                await mina.take_next()
                self.victim = v
        lead = self.staff["lead"]
        assert (await lead.post("/api/v1/bans", {
            "address": "203.0.113.50", "reason": "spam",
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})).status == 201
        # A roster entry to name (best effort: seeding is not what this test checks).
        await lead.client.put(f"/api/v1/roster/people/{self.world.staff_ids[1]}",
                              json={"rostered": True}, headers={"X-CSRF-Token": lead.csrf})
        await lead.post("/api/v1/roster/shifts", {
            "counselor_id": self.world.staff_ids[1], "days": ["mon"], "start": "09:00",
            "end": "17:00", "tz": "UTC"})
        await self._webhooks()
        # A takedown item with a request, so the desk's routes have ids to name.
        item = await lead.post("/api/v1/takedown/items", {
            "kind": "synthetic", "platform": "telegram", "reporter": "staff",
            "location": "https://t.me/somechannel/123"})
        assert item.status == 201, await item.text()
        made = await lead.post(f"/api/v1/takedown/items/{(await item.json())['id']}/requests",
                               {"platform": "telegram", "route": "in_app"})
        assert made.status == 201, await made.text()
        self.login_client = await self.runner.client()
        await self.refresh()

    async def _webhooks(self) -> None:
        """One SMS conversation, one call, one Telegram conversation (ids for the fuzz)."""
        client = await self.runner.client()
        validator = RequestValidator(AUTH_TOKEN)
        sms = {"MessageSid": "SM" + "a1" * 16, "AccountSid": ACCOUNT_SID,
               "From": "+821055556666", "To": OUR_NUMBER, "Body": "help", "NumMedia": "0"}
        call = {"CallSid": "CA" + "b2" * 16, "AccountSid": ACCOUNT_SID, "From": "+821077778888",
                "To": OUR_NUMBER, "CallStatus": "ringing", "Direction": "inbound"}
        for path, form in (("/webhooks/twilio/sms", sms), ("/webhooks/twilio/voice", call)):
            sig = validator.compute_signature(PUBLIC_URL + path, form)
            resp = await client.post(path, data=form, headers={"X-Twilio-Signature": sig})
            assert resp.status == 200, await resp.text()
        self.world.call_sids.append(call["CallSid"])
        update = {"update_id": 1, "message": {
            "message_id": 1, "date": 1_780_000_000, "text": "hello",
            "chat": {"id": TG_CHAT, "type": "private"},
            "from": {"id": TG_CHAT, "is_bot": False, "first_name": "Fuzz"}}}
        resp = await client.post("/webhooks/telegram", json=update,
                                 headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        assert resp.status == 200, await resp.text()

    async def _account(self, party: str, role: Role) -> None:
        """A new staff account for `party`, logged in (a fresh name each time: the fuzz may
        have deactivated the last one, or reset its password)."""
        name = f"fuzz-{party}-{len(self.world.staff_ids)}"
        self.world.staff_ids.append(await add_staff(self.runner.config, name, role))
        self.staff[party] = Counselor(await self.runner.client())
        self.names[party] = name
        assert await self.staff[party].login(name) == 303

    async def refresh(self) -> None:
        """Log back in whoever the fuzz logged out (a new account if that one can no longer
        log in), open a new chat after a Quick exit, and read the ids that exist now."""
        for party, who in self.staff.items():
            if (await who.client.get("/api/v1/me")).status != 200 \
                    and await who.login(self.names[party]) != 303:
                await self._account(party, PARTIES[party])
        assert self.victim is not None
        if (await self.victim.client.get("/chat/api/state")).status != 200:
            self.victim = Victim(await self.runner.client())
            await self.victim.open()
        page = await self.login_client.get("/console/login")
        m = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert m
        self.world.login_csrf = m.group(1)
        self.world.parties = {
            "anonymous": Identity("anonymous", _cookies(self.login_client), m.group(1)),
            "victim": Identity("victim", _cookies(self.victim.client), self.victim.csrf),
            **{party: _staff(who) for party, who in self.staff.items()},
        }
        async with self.deps.engine.connect() as conn:
            self.world.case_ids = list((await conn.execute(
                select(conversations.c.id))).scalars())
            small: set[int] = set()
            for table in (alerts, bans, shifts, shift_overrides, takedown_items,
                          takedown_requests, takedown_alerts):
                small.update((await conn.execute(select(table.c.id))).scalars())
        self.world.small_ids = sorted(small)


def _cookies(client: Any) -> dict[str, str]:
    return {m.key: m.value for m in client.session.cookie_jar}


def _staff(who: Counselor) -> Identity:
    return Identity("staff", _cookies(who.client), who.csrf)


async def send(port: int, req: Request) -> int:
    """Send one request over a fresh connection; its status (the head only for a stream), or
    0 when the server dropped the connection without an answer (a request line or header
    past aiohttp's limits: refused while it was still being sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    raw = b""
    try:
        head = [f"{req.method} {req.target} HTTP/1.1".encode(), b"Host: 127.0.0.1",
                f"Content-Length: {len(req.body)}".encode(), b"Connection: close",
                *(k + b": " + v for k, v in req.headers)]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + req.body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
        if b"text/event-stream" not in raw.lower():
            await asyncio.wait_for(reader.read(), 15)  # the handler has finished
    except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as e:
        raw = raw or getattr(e, "partial", b"")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
