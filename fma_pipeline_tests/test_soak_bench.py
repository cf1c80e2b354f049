"""bench/soak.py runs (tiny size here): it kills runs and finds no lost or duplicate rows.

It once broke silently (it passed the asset key ``track_features`` where ``dg.materialize``
needs the asset ``folder_features``: every run failed with a CheckError), so the README's
"0 lost rows" could not be reproduced. This runs it for real with two kills.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "soak.py"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_soak_kills_two_runs_and_loses_and_duplicates_nothing(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path),  # its data root goes under tmp_path
           "PYTHONPATH": str(REPO)}  # this checkout's fma_pipeline, also in the runner subprocesses
    out = subprocess.run([sys.executable, str(BENCH), "--runs", "3", "--kills", "2", "--kill-probability", "1",
                          "--tracks-per-genre", "1", "--workers", "1", "--seed", "1",
                          "--import-kills", "0"],  # import kills: test_import_kills.py
                         env=env, capture_output=True, text=True, timeout=880)
    report = out.stdout + out.stderr[-3000:]
    assert out.returncode == 0, report
    summary = out.stdout.strip().splitlines()[-1]
    numbers = dict(re.findall(r"(lost rows|duplicate rows|Dagster runs left unfinished|stray temp files at end) (\d+)",
                              summary))
    killed = int(re.search(r"killed (\d+), failures 0\)", summary).group(1))
    assert killed >= 2, summary
    assert numbers == {"lost rows": "0", "duplicate rows": "0", "Dagster runs left unfinished": "0",
                       "stray temp files at end": "0"}, summary
    assert "faults accounted for 25/25" in summary, summary
    assert "PROBLEM" not in out.stdout
    # both kills landed in the run proper, after the runner's imports
    assert len(re.findall(r"killed [\d.]+ s into the run", out.stdout)) == killed, out.stdout
