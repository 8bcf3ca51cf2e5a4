"""examples/python_api.py runs as a user would run it, and says what it should."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "python_api.py"


def test_the_python_example_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"direct lifting of the teacher's units: \d+\.\d mIoU", result.stdout)
    assert re.search(r"distilling chair: 60/60 done in \d+ s \(epoch 30/30  loss \d+\.\d{3}\)", result.stdout)
    assert re.search(r"chair-s1-00000: back \d+%, seat \d+%, leg \d+%, arm \d+%", result.stdout)
    assert (tmp_path / "run" / "student.safetensors").is_file()
