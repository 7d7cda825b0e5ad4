"""Models are cached by a hash of their inputs; the test config is the production family."""

from __future__ import annotations

import yaml

from switchboard.settings import PROJECT_ROOT
from switchboard.training import (
    PRODUCTION_CONFIG,
    ensure_model,
    fast_config,
    fingerprint,
    model_path,
)


def test_fast_config_keeps_the_pipeline_and_only_cuts_epochs(tmp_path):
    fast = yaml.safe_load(fast_config(tmp_path / "fast.yml", epochs=5).read_text())
    production = yaml.safe_load(PRODUCTION_CONFIG.read_text())
    assert [c["name"] for c in fast["pipeline"]] == [c["name"] for c in production["pipeline"]]
    assert [c["name"] for c in fast["policies"]] == [c["name"] for c in production["policies"]]
    for fast_component, component in zip(fast["pipeline"], production["pipeline"], strict=True):
        expected = {**component, "epochs": 5} if "epochs" in component else component
        assert fast_component == expected


def test_fingerprint_follows_the_config_content(tmp_path):
    config = PROJECT_ROOT / "models" / "fingerprint-probe.yml"
    config.parent.mkdir(exist_ok=True)
    try:
        config.write_text(PRODUCTION_CONFIG.read_text())
        same = fingerprint(config)
        assert fingerprint(config) == same
        config.write_text(PRODUCTION_CONFIG.read_text() + "\n# a change\n")
        assert fingerprint(config) != same
    finally:
        config.unlink()


def test_the_session_model_is_reused_not_retrained(test_model):
    trained_at = test_model.stat().st_mtime_ns
    fast = fast_config(PROJECT_ROOT / "models" / "test-config.yml")
    assert model_path(fast, PROJECT_ROOT / "models") == test_model
    assert ensure_model(fast, PROJECT_ROOT / "models") == test_model
    assert test_model.stat().st_mtime_ns == trained_at
