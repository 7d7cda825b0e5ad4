"""Rasa test stories (tests/stories/) pass against the model trained from our data."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from switchboard.settings import PROJECT_ROOT


def test_rasa_test_stories_pass(test_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(test_model),
         "--stories", "tests/stories", "--out", str(tmp_path), "--e2e"],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # --e2e runs the NLU on each story's text too: intents, FAQ keys and entities are checked.
    report = json.loads((tmp_path / "story_report.json").read_text())
    failed = yaml.safe_load((tmp_path / "failed_test_stories.yml").read_text())
    assert report["conversation_accuracy"]["total"] >= 42
    assert not failed or not failed.get("stories"), yaml.safe_dump(failed)
