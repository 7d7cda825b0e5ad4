"""Rasa test stories (tests/stories/) pass against the model trained from our data."""

from __future__ import annotations

import subprocess
import sys

from switchboard.settings import PROJECT_ROOT


def test_rasa_test_stories_pass(test_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(test_model),
         "--stories", "tests/stories", "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else result.stdout[-4000:]
    assert result.returncode == 0, details + result.stderr[-3000:]
