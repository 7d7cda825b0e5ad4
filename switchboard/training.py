"""Train the assistant only when its inputs changed.

A model is named after a hash of everything it is trained from (the pipeline config, the domain,
the training data and the Rasa version), so ``make run`` and the test session reuse a model
until one of those files changes.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import rasa.version
import yaml

from switchboard.settings import PROJECT_ROOT

DOMAIN_PATH = PROJECT_ROOT / "domain"
DATA_PATH = PROJECT_ROOT / "data"
PRODUCTION_CONFIG = PROJECT_ROOT / "config.yml"


def fast_config(target: Path, epochs: int = 40) -> Path:
    """Write the production pipeline with fewer epochs: same family, trained in a fraction.

    Deriving it (instead of keeping a second config by hand) keeps tests on the pipeline
    users run.
    """
    config = yaml.safe_load(PRODUCTION_CONFIG.read_text())
    for component in [*config["pipeline"], *config["policies"]]:
        if "epochs" in component:
            component["epochs"] = min(component["epochs"], epochs)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "# Generated from config.yml by switchboard.training.fast_config\n" + yaml.safe_dump(
        config, sort_keys=False
    )
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def training_inputs(config: Path) -> list[Path]:
    """Every file a model trained with ``config`` depends on, in a stable order."""
    files = [config, *DOMAIN_PATH.rglob("*.yml"), *DATA_PATH.rglob("*.yml")]
    return sorted(set(files))


def fingerprint(config: Path) -> str:
    digest = hashlib.sha256(rasa.version.__version__.encode())
    for path in training_inputs(config):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path(config: Path, model_dir: Path) -> Path:
    prefix = "test" if config.resolve() != PRODUCTION_CONFIG else "switchboard"
    return model_dir / f"{prefix}-{fingerprint(config)}.tar.gz"


def ensure_model(config: Path = PRODUCTION_CONFIG, model_dir: Path | None = None) -> Path:
    """Return the model for the current inputs, training it first if it does not exist yet."""
    model_dir = model_dir or PROJECT_ROOT / "models"
    target = model_path(config, model_dir)
    if target.exists():
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "rasa", "train",
        "--config", str(config),
        "--domain", str(DOMAIN_PATH),
        "--data", str(DATA_PATH),
        "--out", str(model_dir),
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    ]
    subprocess.run(command, check=True, cwd=PROJECT_ROOT)
    _remove_stale_models(target)
    return target


def _remove_stale_models(current: Path) -> None:
    """Keep one model per config kind so the models folder does not grow with every edit."""
    prefix = current.name.split("-", 1)[0]
    for old in current.parent.glob(f"{prefix}-*.tar.gz"):
        if old != current:
            old.unlink()
