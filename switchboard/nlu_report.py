"""Cross-validate the NLU and write a product owner's report: a Markdown table plus Rasa's PNG."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from switchboard.training import DATA_PATH, DOMAIN_PATH, PRODUCTION_CONFIG, PROJECT_ROOT

SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg", "micro avg")


def run_cross_validation(out_dir: Path, folds: int = 3) -> Path:
    """Run ``rasa test nlu --cross-validation`` and turn its JSON into ``intent_report.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "rasa", "test", "nlu",
         "--nlu", str(DATA_PATH / "nlu"), "--config", str(PRODUCTION_CONFIG),
         "--domain", str(DOMAIN_PATH), "--cross-validation", "--folds", str(folds),
         "--out", str(out_dir)],
        check=True, cwd=PROJECT_ROOT,
    )
    sections = [f"# NLU cross-validation ({folds} folds)", ""]
    sections += markdown_table("Intents", json.loads((out_dir / "intent_report.json").read_text()))
    selection = out_dir / "response_selection_report.json"
    if selection.exists():
        answers = json.loads(selection.read_text())
        sections += markdown_table("FAQ answers (ResponseSelector)", answers)
    sections.append("Confusion matrix: intent_confusion_matrix.png")
    report = out_dir / "intent_report.md"
    report.write_text("\n".join(sections) + "\n")
    return report


def markdown_table(title: str, report: dict) -> list[str]:
    """Rows sorted by F1, worst first so problems come first, each with its top confusions."""
    rows = {name: row for name, row in report.items()
            if name not in SUMMARY_ROWS and isinstance(row, dict)}
    lines = [f"## {title}", ""]
    if "accuracy" in report:
        lines += [f"Accuracy: {report['accuracy']:.3f}", ""]
    lines += ["| label | precision | recall | F1 | support | top confusions |",
              "|---|---|---|---|---|---|"]
    for name, row in sorted(rows.items(), key=lambda item: item[1]["f1-score"]):
        confused = row.get("confused_with") or {}
        top = ", ".join(f"{other} ({count})" for other, count in
                        sorted(confused.items(), key=lambda kv: -kv[1])[:3])
        lines.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | "
                     f"{row['f1-score']:.3f} | {row['support']} | {top or '-'} |")
    return [*lines, ""]
