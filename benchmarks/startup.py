"""How long commands take to start: ``thermal-action --help``, ``configs``, ``infer
--help`` and importing the tracker, each in a fresh interpreter (median of 5 runs, wall
seconds), against the 1 s target; and, for scale, a command that loads the model stack.

    python benchmarks/startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

TARGET_S = 1.0
CASES = {
    "thermal-action --help": ["-m", "thermal_action.cli.main", "--help"],
    "thermal-action configs": ["-m", "thermal_action.cli.main", "configs"],
    "thermal-action infer --help": ["-m", "thermal_action.cli.main", "infer", "--help"],
    "import thermal_action.tracking": ["-c", "from thermal_action.tracking import Tracker"],
    "import thermal_action.engine.runner (the model stack)":
        ["-c", "import thermal_action.engine.runner"],
}


def seconds(arguments: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *arguments], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    for name, arguments in CASES.items():
        taken = seconds(arguments)
        print(f"{name:<55} {taken:5.2f} s  ({taken / TARGET_S:.2f} of the 1 s target)")


if __name__ == "__main__":
    main()
