"""Read Rasa NLU YAML files into {label: [example texts]} with entity markup removed."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import yaml

# [text](entity) and [text]{"entity": ...} become text
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def plain_text(example: str) -> str:
    return ANNOTATION.sub(r"\1", example).strip()


def examples_by_label(*paths: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    found[block["intent"]].append(plain_text(line[2:]))
    return dict(found)
