"""Run one benchmark step in its own Python process: wall time and that process's peak RSS."""

from __future__ import annotations

import subprocess
import sys

_STEP = """
import resource, time
import distillguard as dg
t = time.perf_counter()
{body}
print(f"{{time.perf_counter() - t:.2f}} {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}}")
"""


def run_step(body: str) -> tuple[float, float]:
    """Execute ``body`` (Python source) in a fresh interpreter; return (seconds, peak RSS MB)."""
    out = subprocess.run(
        [sys.executable, "-c", _STEP.format(body=body)], capture_output=True, text=True, check=True
    )
    seconds, mb = out.stdout.split()[-2:]
    return float(seconds), float(mb)
