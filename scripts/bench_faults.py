"""The fault table (issue 11): pages lost and duplicated across the fault matrix
(tests/support/fault_matrix.py; target 0 / 0), and the webhook's answer time over a
real socket with every vendor answering in 300 ms and in 2 s (target p99 < 100 ms
warm). Registered into scripts/bench.py's SECTIONS on import."""

from __future__ import annotations

import argparse
import gc
import statistics

from bench import Row, section


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@section("faults", "Faults: pages lost / duplicated (one P0, 4 pages) and webhook answer time")
def faults_section(args: argparse.Namespace) -> list[Row]:
    from tests.support.fault_matrix import answer_times, run_matrix
    from tests.support.redis_server import RedisServer

    server = RedisServer()
    try:
        cases = run_matrix(server)
        rows = [Row(c.name, f"{c.lost} / {c.duplicated}", "lost / dup") for c in cases]
        rows.append(Row(f"total over {len(cases)} faults", f"{sum(c.lost for c in cases)} / "
                        f"{sum(c.duplicated for c in cases)}", "lost / dup", "target 0 / 0"))
        for delay in (0.3, 2.0):
            # The matrix leaves this process a large heap; without a collection here, a gen-2 pass
            # over it (~90 ms) lands inside one of the 30 answers and is that p99, not the webhook's.
            gc.collect()
            times = answer_times(server, delay)
            note = f"n={len(times)}, vendors at {delay:g} s"
            rows.append(Row(f"alerts webhook answer p50, vendors {delay:g} s", round(statistics.median(times) * 1000),
                            "ms", note))
            rows.append(Row(f"alerts webhook answer p99, vendors {delay:g} s", round(_pct(times, 0.99) * 1000),
                            "ms", "target < 100"))
    finally:
        server.stop()
    return rows
