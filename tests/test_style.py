"""The code base stays ruff-clean (the house style), checked with the rest of the suite."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff not installed (it comes with the test extra)")
def test_ruff_reports_no_problems():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
