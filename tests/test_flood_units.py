"""The flood limits' parts on their own: client addresses as counted and banned (IPv6 by its
/64), the ban list's expiry, the [limits] config (a bad key stops start-up naming it), and the
token buckets on a real redis-server: a burst then a refusal with its wait, refill, all or
none across buckets, the calm answer's mark set once, and everything let through when the
redis-server is killed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.config import ConfigError, config_from_mapping
from hotline.config_limits import Rate
from hotline.domain.bans import BanList, Kind, client_network
from tests.conftest import Database, RedisProcess, make_config
from tests.service_deps import open_deps


@pytest.mark.parametrize(("remote", "network"), [
    ("203.0.113.7", "203.0.113.7"),
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("", None),
    (None, None),
    ("unix-socket", None),
])
def test_client_network(remote: str | None, network: str | None) -> None:
    assert client_network(remote) == network


def test_ban_list_counts_only_bans_in_force() -> None:
    now = datetime.now(UTC)
    bans = BanList.of([(Kind.SENDER, "a", now + timedelta(minutes=5)),
                       (Kind.SENDER, "a", now - timedelta(minutes=5)),
                       (Kind.ADDRESS, "b", now - timedelta(seconds=1))])
    assert bans.banned(Kind.SENDER, "a", now)
    assert not bans.banned(Kind.SENDER, "a", now + timedelta(minutes=6))
    assert not bans.banned(Kind.ADDRESS, "b", now)
    assert not bans.banned(Kind.ADDRESS, "a", now)  # a sender's tag is not an address's
    assert not bans.banned(Kind.SENDER, None, now)


@pytest.mark.parametrize(("limits", "message"), [
    ({"sender_replies_burst": 0}, "limits.sender_replies_burst: expected 1..1000000"),
    ({"address_cases_per_hour": -5}, "limits.address_cases_per_hour: expected 1..1000000"),
    ({"address_cases_burst": "many"}, "limits.address_cases_burst: expected an integer"),
    ({"sender_cases_burst": 5}, "limits.sender_cases_burst: unknown key"),
])
def test_a_bad_limit_stops_start_up_naming_its_key(limits: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config_from_mapping({"limits": limits})
    assert str(e.value).startswith(message)


def test_rates() -> None:
    assert Rate(5, 10).interval_ms == 360_000
    assert Rate(1, 7_200_000).interval_ms == 1
    assert config_from_mapping({}).limits.rate("sender_replies") == Rate(30, 120)


async def test_buckets_on_a_real_redis(tmp_path: Path, database: Database,
                                       redis_server: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, redis_server.url, limits={
        "sender_replies_burst": 3, "sender_replies_per_hour": 36_000,  # one per 100 ms
        "address_cases_burst": 2, "address_cases_per_hour": 1})
    async with open_deps(cfg) as deps:
        b = deps.flood
        verdicts = [await b.take([("sender_replies", "s1")], notice="s1") for _ in range(5)]
        assert [v.allowed for v in verdicts] == [True, True, True, False, False]
        assert [v.first_refusal for v in verdicts] == [False, False, False, True, False]
        assert verdicts[3].retry_after_s == 1
        # Another sender has a bucket of its own.
        assert (await b.take([("sender_replies", "s2")])).allowed
        await asyncio.sleep(0.15)
        assert (await b.take([("sender_replies", "s1")])).allowed  # refilled
        # All or none: with the address's bucket empty, the sender's is not taken either.
        assert (await b.take([("address_cases", "a1")])).allowed
        assert (await b.take([("address_cases", "a1")])).allowed
        refused = await b.take([("sender_replies", "s3"), ("address_cases", "a1")])
        assert not refused.allowed and refused.retry_after_s > 3000
        assert [(await b.take([("sender_replies", "s3")])).allowed for _ in range(4)] \
            == [True, True, True, False]
        # The calm answer's mark for a banned sender: once in a while.
        assert await b.first_notice("s9") and not await b.first_notice("s9")


async def test_buckets_let_everything_through_when_redis_is_killed(
        tmp_path: Path, database: Database, private_redis: RedisProcess) -> None:
    cfg = make_config(tmp_path / "data", database.url, private_redis.url,
                      limits={"sender_replies_burst": 1})
    async with open_deps(cfg) as deps:
        assert (await deps.flood.take([("sender_replies", "s")])).allowed
        assert not (await deps.flood.take([("sender_replies", "s")])).allowed
        assert private_redis.proc is not None
        private_redis.proc.kill()
        private_redis.proc.wait()
        assert (await deps.flood.take([("sender_replies", "s")], notice="s")).allowed
        assert await deps.flood.first_notice("s")
        private_redis.start()  # for open_deps' own clean-up
