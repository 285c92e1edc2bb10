"""`make demo`'s script runs end to end (on a small synthetic set, so the test stays quick)."""

import pathlib
import re
import subprocess
import sys

DEMO = pathlib.Path(__file__).resolve().parents[1] / "examples" / "demo.py"


def test_demo_runs_and_reports_what_it_promises():
    out = subprocess.run(
        [sys.executable, str(DEMO), "--synthetic", "3000"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "SYNTHETIC" in text and "3,000 vectors of dimension 384" in text
    assert "filter pos == 'adv'" in text and "n_lemmas >= 4 and not a noun" in text
    recalls = [float(r) for r in re.findall(r"recall (\d\.\d+)", text)]
    assert len(recalls) == 4 and recalls[-1] >= 0.9, text
    assert "same ids and scores for 50 queries as before the snapshot: yes" in text
