"""No personal data in logs: the whole flow (a victim writes, a counselor logs in, takes the case,
replies and closes it) with every logger at DEBUG, each record formatted as the server would
write it (hotline.logs.JsonFormatter). No message text, password, chat cookie or counselor name
may appear in any line."""

from __future__ import annotations

import logging

import pytest

from hotline.logs import JsonFormatter
from tests.conftest import AppRunner
from tests.helpers import Counselor, Victim, add_staff

VICTIM_TEXT = "Quokka-7731 my stepbrother shares my photos in a Discord server"
VICTIM_TEXT_2 = "Wombat-5512 the server is called night-owls"
REPLY_TEXT = "Pangolin-9043 we can file a takedown request together"
COUNSELOR = "counselor_haneul_q7"
PASSWORD = "Xylophone-Meadow-4471-passphrase"


async def test_no_personal_data_in_logs(app_runner: AppRunner,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="hotline")
    cfg = app_runner.config
    await add_staff(cfg, COUNSELOR, password=PASSWORD)

    victim = Victim(await app_runner.client())
    await victim.open("en")
    assert (await victim.send(VICTIM_TEXT)).status == 201
    counselor = Counselor(await app_runner.client())
    # A failed login first: failures are logged too, and must not name the account.
    assert await counselor.login(COUNSELOR, PASSWORD + "-typo") == 401
    assert await counselor.login(COUNSELOR, PASSWORD) == 303
    cid = await counselor.take_next()
    assert [m["text"] for m in (await counselor.case(cid))["messages"]] == [VICTIM_TEXT]
    assert (await counselor.reply(cid, REPLY_TEXT)).status == 201
    assert (await victim.send(VICTIM_TEXT_2)).status == 201
    state = await victim.state()
    assert [m["text"] for m in state["messages"]] == [VICTIM_TEXT, REPLY_TEXT, VICTIM_TEXT_2]
    # Bad input and errors are logged too.
    assert (await victim.send("x" * (cfg.privacy.max_message_chars + 1))).status == 413
    assert (await counselor.reply(cid, "")).status == 400
    assert (await counselor.close(cid)).status == 200
    assert (await counselor.reply(cid, REPLY_TEXT)).status == 409
    logout = await counselor.client.post("/console/logout", data={"csrf": counselor.csrf},
                                         allow_redirects=False)
    assert logout.status == 303

    jar = victim.client.session.cookie_jar
    chat_cookie = str(jar.filter_cookies(victim.client.make_url("/chat"))["hl_chat"].value)
    chat_random = chat_cookie.partition(".")[0]

    fmt = JsonFormatter()
    lines = [fmt.format(r) for r in caplog.records]
    assert lines, "nothing was logged at all"
    # The flow did log (ids only): the inbound message and the assignment.
    assert any("inbound stored" in line for line in lines)

    secrets_ = {
        "victim text": VICTIM_TEXT,
        "victim text (distinctive part)": "Quokka-7731",
        "second victim text": "Wombat-5512",
        "reply text": "Pangolin-9043",
        "counselor password": PASSWORD,
        "counselor password (part)": "Xylophone-Meadow",
        "chat cookie": chat_cookie,
        "chat cookie (random part)": chat_random,
        "counselor name": COUNSELOR,
        "counselor name (part)": "haneul_q7",
        "victim csrf token": victim.csrf,
        "staff csrf token": counselor.csrf,
    }
    leaks = [(what, line) for line in lines for what, value in secrets_.items()
             if value and value in line]
    assert not leaks, "\n".join(f"{what}: {line}" for what, line in leaks[:10])


def test_an_exception_is_logged_by_where_not_what() -> None:
    """log.exception writes the error's type and frames, never its text or its cause's: a
    provider's error can quote the number it refused."""

    def refuse() -> None:
        raise ValueError("invalid To number +821012345678")

    record: logging.LogRecord | None = None
    try:
        try:
            refuse()
        except ValueError as e:
            raise RuntimeError("send failed for +821012345678") from e
    except RuntimeError:
        import sys

        record = logging.makeLogRecord({"msg": "sender raised", "levelno": logging.ERROR,
                                        "levelname": "ERROR", "exc_info": sys.exc_info()})
    assert record is not None
    line = JsonFormatter().format(record)
    assert "821012345678" not in line
    assert "RuntimeError at test_log_privacy.py:" in line
    assert "caused by ValueError at test_log_privacy.py:" in line and " refuse" in line
