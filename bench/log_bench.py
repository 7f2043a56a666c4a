"""What a log line at INFO costs the event loop's thread, the way the server logs.

    .venv/bin/python bench/log_bench.py [--lines N]

Writes N "inbound stored"-like lines (ids only, as the inbox logged them for every message)
to /dev/null three ways and prints the CPU time of the calling thread per line: formatted as
JSON and written from the caller (the server until issue 18), queued to the writer thread
(hotline.logs.setup_logging now: the formatting and the write happen there), and below the
level (the floor). CPU time of the calling thread, not wall time, so other load on the shared
machine counts less; the writer thread's own time is not in the second figure (it still takes
a core's time, off the loop). Figures only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.logs import JsonFormatter, setup_logging, stop_logging

log = logging.getLogger("hotline.cases.inbox")


def per_line_us(n: int) -> float:
    t = time.thread_time()
    for i in range(n):
        log.info("inbound stored", extra={"conversation": "ab" * 16, "seq": i,
                                          "channel": "sms"})
    return (time.thread_time() - t) / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=20_000)
    args = ap.parse_args()
    out = sys.stdout
    with open(os.devnull, "w") as null:
        sys.stderr = null
        try:
            direct = logging.StreamHandler(null)
            direct.setFormatter(JsonFormatter())
            root = logging.getLogger()
            root.handlers[:] = [direct]
            root.setLevel("INFO")
            figures = {"JSON written from the caller": per_line_us(args.lines)}
            setup_logging("INFO")
            figures["queued to the writer thread"] = per_line_us(args.lines)
            stop_logging()
            root.handlers[:] = [direct]
            root.setLevel("WARNING")
            figures["below the level"] = per_line_us(args.lines)
        finally:
            sys.stderr = sys.__stderr__
    print(f"load average {os.getloadavg()[0]:.1f}; {args.lines} lines each", file=out)
    for label, us in figures.items():
        print(f"  {label:30} {us:6.1f} us of the calling thread per line", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
