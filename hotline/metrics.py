"""Prometheus metrics for /metrics. Counters are per process; gauges are read at scrape time."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from hotline.cases.floor_queries import WaitingGroup

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter("hotline_messages_in", "Messages received from victims",
                      ["channel"], registry=REGISTRY)
MESSAGES_OUT = Counter("hotline_messages_out", "Messages sent to victims",
                       ["channel"], registry=REGISTRY)
WEBHOOK_ERRORS = Counter("hotline_webhook_errors", "Inbound requests rejected or failed",
                         ["endpoint", "reason"], registry=REGISTRY)
FLOOD_REFUSED = Counter("hotline_flood_refused", "Actions a flood limit held back or refused, "
                        "and contacts from banned senders or addresses", ["limit"],
                        registry=REGISTRY)
ABANDONED = Counter("hotline_abandoned", "Cases closed because the victim left (never answered "
                    "when closed while waiting)", ["channel", "how"], registry=REGISTRY)
WAITING = Gauge("hotline_waiting", "Conversations waiting for a counselor",
                ["language", "urgency"], registry=REGISTRY)
OLDEST_WAIT = Gauge("hotline_oldest_wait_seconds", "Longest current wait",
                    registry=REGISTRY)
PRESENT = Gauge("hotline_counselors_present", "Counselors with a live console",
                registry=REGISTRY)


def render(groups: list[WaitingGroup], present: int, now: datetime) -> bytes:
    """Set the scrape-time gauges and render everything in the text exposition format."""
    WAITING.clear()
    counts: dict[tuple[str, str], int] = {}
    for g in groups:
        key = (g.language, g.urgency.value)
        counts[key] = counts.get(key, 0) + g.count
    for (lang, urg), n in counts.items():
        WAITING.labels(lang, urg).set(n)
    OLDEST_WAIT.set(max(((now - g.oldest).total_seconds() for g in groups), default=0))
    PRESENT.set(present)
    return generate_latest(REGISTRY)
