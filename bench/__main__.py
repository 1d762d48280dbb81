"""Run every benchmark: `python -m bench [name ...]`."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "bench.core_auth",
    "bench.hotline_voice",
    "bench.hotline_ladder",
    "bench.shelters",
    "bench.referrals",
    "bench.keys_rotate",
    "bench.safety_plans",
    "bench.console",
)


def main(argv: list[str]) -> int:
    selected = [b for b in BENCHMARKS if not argv or b.rsplit(".", 1)[-1] in argv]
    for name in selected:
        print(f"== {name}")
        importlib.import_module(name).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
