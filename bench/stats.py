"""Small helpers for timing and reporting."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def time_calls(call: Callable[[], object], count: int) -> list[float]:
    """Milliseconds per call, for `count` calls."""
    samples: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, samples: list[float]) -> str:
    return (
        f"{label:<44} n={len(samples):<5} p50={percentile(samples, 0.5):7.2f} ms "
        f"p95={percentile(samples, 0.95):7.2f} ms p99={percentile(samples, 0.99):7.2f} ms "
        f"mean={statistics.fmean(samples):7.2f} ms"
    )
