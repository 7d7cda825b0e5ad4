"""The product owners' intent review loop: what customers said that the assistant got wrong.

``collect`` finds the customer messages of a period worth a human look (fallback, low confidence,
the message before a handoff, contacts rated 1 or 2); ``group`` folds near-duplicates so each
wording is reviewed once; ``write_review`` writes them as Rasa NLU YAML under the intent the
assistant predicted, for a product owner to relabel in any editor; ``apply`` merges the reviewed
file into ``data/nlu`` without duplicates and without ever touching the held-out test set.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import textwrap
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from contacts.masking import MASK, mask_secrets
from contacts.models import Contact, ContactOperation, ContactTouch

FALLBACK_INTENT = "nlu_fallback"
HANDOFF_CATEGORY = "handoff_requested"
NEGATIVE_CSAT = (1, 2)
DEFAULT_THRESHOLD = 0.6
SIMILARITY = 0.9  # difflib ratio of normalised texts at or above which two messages are one
NEW_INTENTS_FILE = "reviewed.yml"
# Why a message is up for review, in the order the review file lists them.
REASONS = ("fallback", "low_confidence", "handoff", "negative_csat")

# [text](entity) and [text]{"entity": ...}: the annotation is dropped when comparing examples.
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_INTENT_NAME = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)?$")  # plain or retrieval (faq/key)


class ReviewError(ValueError):
    """A review file or request that cannot be used; the message says why, for the reviewer."""


# --- Collecting ---

@dataclass(frozen=True)
class ReviewItem:
    """One customer message worth a review, and why."""

    text: str
    intent: str | None
    confidence: float | None
    reference: str  # the contact's reference, to read the conversation around it
    why: tuple[str, ...]  # some of REASONS
    at: datetime


def collect(
    session: Session, since: datetime, until: datetime | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[ReviewItem]:
    """Customer messages from ``since`` to ``until`` (exclusive, None: now) worth a review.

    A message is chosen when the NLU fell back, was less sure than ``threshold``, was the last
    thing the customer said before the contact's first handoff, or belongs to a contact rated 1
    or 2. Texts are masked again: the review file is passed around more than the database.
    """
    triggered_handoff = ContactTouch.id.in_(_handoff_triggers(since))
    period = [ContactTouch.at >= since] + ([ContactTouch.at < until] if until else [])
    rows = session.execute(
        select(ContactTouch.text, ContactTouch.intent, ContactTouch.confidence, ContactTouch.at,
               Contact.reference, Contact.csat, triggered_handoff.label("handoff"))
        .join(Contact, Contact.id == ContactTouch.contact_id)
        .where(*_from_customer(ContactTouch), *period, or_(
            ContactTouch.intent == FALLBACK_INTENT,
            ContactTouch.confidence < threshold,
            Contact.csat.in_(NEGATIVE_CSAT),
            triggered_handoff,
        ))
        .order_by(ContactTouch.at, ContactTouch.id)
    ).all()
    items = (_review_item(row, threshold) for row in rows)
    return [item for item in items if item is not None]


def _from_customer(touch: Any) -> list[Any]:
    return [touch.direction == "in", touch.author == "customer"]


def _handoff_triggers(since: datetime) -> Any:
    """Ids of the last customer message before each contact's first handoff request.

    "Last" is the highest touch id at or before the handoff: touches are stored in the order
    they happened. Handoffs before ``since`` cannot have a trigger in the period. (An alias of
    the touch table, so this is not correlated with the outer query.)
    """
    touch = aliased(ContactTouch)
    first_handoff = (
        select(ContactOperation.contact_id, func.min(ContactOperation.at).label("at"))
        .where(ContactOperation.category == HANDOFF_CATEGORY)
        .group_by(ContactOperation.contact_id)
        .subquery()
    )
    return (
        select(func.max(touch.id))
        .join(first_handoff, first_handoff.c.contact_id == touch.contact_id)
        .where(*_from_customer(touch), touch.at <= first_handoff.c.at,
               first_handoff.c.at >= since)
        .group_by(touch.contact_id)
    )


def _review_item(row: Any, threshold: float) -> ReviewItem | None:
    text = " ".join(mask_secrets(row.text or "").split())  # one line: one example
    if not text.replace(MASK, "").strip() or text.startswith("/"):
        return None  # only a secret, or a button payload: nothing to learn
    fallback = row.intent == FALLBACK_INTENT
    flags = {
        "fallback": fallback,
        "low_confidence": (not fallback and row.confidence is not None
                           and row.confidence < threshold),
        "handoff": bool(row.handoff),
        "negative_csat": row.csat in NEGATIVE_CSAT,
    }
    why = tuple(reason for reason in REASONS if flags[reason])
    return ReviewItem(text, row.intent, row.confidence, row.reference, why, row.at)


# --- Grouping near-duplicates ---

@dataclass
class ReviewGroup:
    """Messages that say the same thing, reviewed once through their most common wording."""

    items: list[ReviewItem]
    text: str  # the representative wording

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def intent(self) -> str:
        """The intent predicted most often (unknown predictions count as a fallback)."""
        predicted = Counter(item.intent or FALLBACK_INTENT for item in self.items)
        return predicted.most_common(1)[0][0]

    @property
    def other_intents(self) -> list[str]:
        return sorted({item.intent or FALLBACK_INTENT for item in self.items} - {self.intent})

    @property
    def confidences(self) -> list[float]:
        return sorted(i.confidence for i in self.items
                      if i.confidence is not None and (i.intent or FALLBACK_INTENT) == self.intent)

    @property
    def why(self) -> tuple[str, ...]:
        reasons = {reason for item in self.items for reason in item.why}
        return tuple(reason for reason in REASONS if reason in reasons)

    @property
    def references(self) -> list[str]:
        return sorted({item.reference for item in self.items})


def normalise(text: str) -> str:
    """Lower case, punctuation as spaces, single spaces: "What's my BALANCE??" -> "what s my
    balance"."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def similar(a: str, b: str, threshold: float = SIMILARITY) -> bool:
    """Whether two normalised texts are near-duplicates: same words, or a difflib ratio this high.

    (rapidfuzz would be faster, but it is not a dependency; difflib is in the standard library.)
    """
    if a == b or (a and set(a.split()) == set(b.split())):
        return True
    if 2 * min(len(a), len(b)) < threshold * (len(a) + len(b)):
        return False  # the lengths alone rule it out: the cheapest check first
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.quick_ratio() >= threshold and matcher.ratio() >= threshold


def group(items: Iterable[ReviewItem], threshold: float = SIMILARITY) -> list[ReviewGroup]:
    """Near-duplicate messages together, most frequent first.

    Exact matches after ``normalise`` are counted first, so each group's representative is the
    wording customers used most; then each wording joins the first group whose representative
    it is ``similar`` to.
    """
    by_wording: dict[str, list[ReviewItem]] = {}
    for item in items:
        by_wording.setdefault(normalise(item.text), []).append(item)
    groups: list[tuple[str, ReviewGroup]] = []
    for key, same in sorted(by_wording.items(), key=lambda kv: -len(kv[1])):  # stable: ties
        home = next((g for rep, g in groups if similar(key, rep, threshold)), None)
        if home is None:
            groups.append((key, ReviewGroup(list(same), _most_common_text(same))))
        else:
            home.items.extend(same)
    return sorted((g for _, g in groups), key=lambda g: -g.count)


def _most_common_text(items: Sequence[ReviewItem]) -> str:
    return Counter(item.text for item in items).most_common(1)[0][0]


# --- Writing the review file ---

REVIEW_HEADER = """\
# NLU review of customer messages from {since} to {until} (UTC).
# {messages} messages ({groups} after folding near-duplicates) that the assistant did not
# understand (fallback), was less than {threshold:.0%} sure about (low_confidence), that came
# just before a handoff to a human (handoff), or that are from contacts rated 1 or 2
# (negative_csat).
#
# How to review (any text editor; keep the indentation):
#   1. Each example sits under the intent the assistant predicted. The comment above it gives
#      that prediction and its confidence, why it is here, how many messages said it and in
#      which contacts (`switchboard contacts show REFERENCE` shows the conversation).
#   2. If an example is under the wrong intent, move it (with its comment) to the right intent
#      block, or add a new block:  "  - intent: new_name" / "    examples:" above it.
#   3. Everything under "intent: nlu_fallback" was not understood at all: move each example you
#      keep to its real intent. --apply refuses anything still labelled nlu_fallback.
#   4. Delete examples that should not be learned (gibberish, several requests in one, ...).
#      [redacted] marks a secret that was removed.
#   5. Then run:  switchboard nlu review --apply THIS_FILE
#      Examples already in data/nlu or in the held-out test set are skipped.
"""


def write_review(
    path: Path, groups: Sequence[ReviewGroup], *, since: datetime, until: datetime | None,
    threshold: float = DEFAULT_THRESHOLD,
) -> Path:
    """Write the review file (Rasa NLU YAML, one block per predicted intent) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_review(groups, since=since, until=until, threshold=threshold))
    return path


def render_review(
    groups: Sequence[ReviewGroup], *, since: datetime, until: datetime | None,
    threshold: float = DEFAULT_THRESHOLD,
) -> str:
    """The review file's text: a how-to header, then the examples to check, fallbacks first.

    Examples are ``- text: "..."`` items rather than an ``examples: |`` block so that the
    comment above each one is a real YAML comment (a ``#`` inside a block is example text).
    """
    header = REVIEW_HEADER.format(
        since=f"{since:%Y-%m-%d %H:%M}", until=f"{until:%Y-%m-%d %H:%M}" if until else "now",
        threshold=threshold, messages=sum(g.count for g in groups), groups=len(groups),
    )
    lines = [header.rstrip("\n"), 'version: "3.1"', "nlu:" if groups else "nlu: []"]
    by_intent: dict[str, list[ReviewGroup]] = {}
    for one in groups:
        by_intent.setdefault(one.intent, []).append(one)
    for intent in sorted(by_intent, key=lambda name: (name != FALLBACK_INTENT, name)):
        lines += [f"  - intent: {intent}", "    examples:"]
        for one in by_intent[intent]:
            lines += [f"      # {line}" for line in _describe(one)]
            lines.append(f"      - text: {json.dumps(one.text, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _describe(one: ReviewGroup) -> list[str]:
    """The comment above an example, wrapped to fit the project's line length."""
    scores = one.confidences
    confidence = ("?" if not scores else f"{scores[0]:.2f}" if scores[0] == scores[-1]
                  else f"{scores[0]:.2f}-{scores[-1]:.2f}")
    parts = [f"predicted {one.intent} {confidence}"]
    if one.other_intents:
        parts.append(f"also predicted {', '.join(one.other_intents)}")
    parts += [f"why {', '.join(one.why)}",
              f"{one.count} message{'s' if one.count > 1 else ''}",
              f"contacts {', '.join(one.references)}"]
    return textwrap.wrap("; ".join(parts), width=90, break_long_words=False,
                         break_on_hyphens=False)


# --- Applying a reviewed file ---

@dataclass
class ApplyResult:
    """What ``apply`` did, for the reviewer: counts and the examples behind them."""

    added: dict[str, list[str]] = field(default_factory=dict)  # intent -> examples
    already_trained: list[str] = field(default_factory=list)
    in_holdout: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # still labelled nlu_fallback
    new_intents: list[str] = field(default_factory=list)  # written to NEW_INTENTS_FILE
    changed_files: list[Path] = field(default_factory=list)

    @property
    def added_count(self) -> int:
        return sum(len(examples) for examples in self.added.values())

    @property
    def skipped_count(self) -> int:
        return len(self.already_trained) + len(self.in_holdout)


def apply(review_file: Path, nlu_dir: Path, holdout_file: Path) -> ApplyResult:
    """Merge a reviewed file's examples into the training data in ``nlu_dir``.

    Each example is appended to the ``examples: |`` block of its intent in the file that already
    defines it (new intents go to ``reviewed.yml``), editing the text so comments and layout stay
    as they were. Examples already in the training data or in the held-out file are skipped
    (case and spacing ignored): a held-out example in training would flatter the evaluation.
    Examples still under ``nlu_fallback`` are refused. The held-out file is only read.
    """
    reviewed = read_examples(review_file)
    training = {path: read_examples(path) for path in _nlu_files(nlu_dir)}
    known = {_key(text) for by_intent in training.values() for texts in by_intent.values()
             for text in texts}
    held_out = {_key(text) for texts in read_examples(holdout_file).values() for text in texts}
    homes = _intent_homes(training)
    result = ApplyResult()
    for intent, texts in reviewed.items():
        for text in texts:
            if intent == FALLBACK_INTENT:
                result.refused.append(text)
            elif _key(text) in held_out:
                result.in_holdout.append(text)
            elif _key(text) in known:
                result.already_trained.append(text)
            else:
                known.add(_key(text))
                result.added.setdefault(intent, []).append(text)
    result.new_intents = sorted(set(result.added) - set(homes))
    result.changed_files = _write_examples(result.added, homes, nlu_dir, holdout_file)
    return result


def read_examples(path: Path) -> dict[str, list[str]]:
    """{intent: [example as written, annotations kept]} from a Rasa NLU YAML file.

    Reads both layouts Rasa accepts: an ``examples: |`` block of ``- text`` lines and a list of
    ``- text: ...`` items. Regex, lookup and synonym entries are not intents and are left out.
    """
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ReviewError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ReviewError(f"{path} is not valid YAML: {_one_line(exc)}") from exc
    blocks = data.get("nlu") if isinstance(data, dict) else None
    if not isinstance(blocks, list):
        raise ReviewError(f"{path} has no 'nlu:' list of intent blocks")
    found: dict[str, list[str]] = {}
    for block in blocks:
        if isinstance(block, dict) and "intent" in block:
            intent = _intent_name(block["intent"], path)
            found.setdefault(intent, []).extend(_block_examples(block.get("examples"), intent,
                                                                path))
    return found


def _intent_name(value: Any, path: Path) -> str:
    name = str(value or "").strip()
    if not _INTENT_NAME.match(name):
        raise ReviewError(f"{path}: {name!r} is not an intent name (letters, digits, _ and -, "
                          "or retrieval/key)")
    return name


def _block_examples(examples: Any, intent: str, path: Path) -> list[str]:
    if examples is None:
        return []
    if isinstance(examples, str):
        lines = [line.strip() for line in examples.splitlines()]
        texts = [line[1:] for line in lines if line.startswith("-")]
    elif isinstance(examples, list):
        texts = [item.get("text") if isinstance(item, dict) else item for item in examples]
    else:
        raise ReviewError(f"{path}: the examples of {intent} are neither a '|' block nor a list")
    if not all(isinstance(text, str) for text in texts):
        raise ReviewError(f"{path}: an example of {intent} is not text (quote it)")
    return [" ".join(text.split()) for text in texts if text.strip()]


def _intent_homes(training: dict[Path, dict[str, list[str]]]) -> dict[str, Path]:
    """The file that defines each intent (the first one, by name, if several do)."""
    homes: dict[str, Path] = {}
    for path, by_intent in training.items():
        for intent in by_intent:
            homes.setdefault(intent, path)
    return homes


def _nlu_files(nlu_dir: Path) -> list[Path]:
    if not nlu_dir.is_dir():
        raise ReviewError(f"{nlu_dir} is not a directory of NLU files")
    return sorted([*nlu_dir.glob("*.yml"), *nlu_dir.glob("*.yaml")])


def _key(text: str) -> str:
    """How examples are compared: annotations dropped, case and spacing ignored."""
    return " ".join(_ANNOTATION.sub(r"\1", text).lower().split())


def _write_examples(
    added: dict[str, list[str]], homes: dict[str, Path], nlu_dir: Path, holdout_file: Path,
) -> list[Path]:
    """Append the examples to their files, each file rewritten once; the files changed."""
    by_file: dict[Path, dict[str, list[str]]] = {}
    for intent, texts in added.items():
        home = homes.get(intent, nlu_dir / NEW_INTENTS_FILE)
        by_file.setdefault(home, {})[intent] = texts
    for path, examples in by_file.items():
        if path.resolve() == holdout_file.resolve():
            raise ReviewError(f"refusing to write into the held-out file {holdout_file}")
        text = path.read_text() if path.exists() else 'version: "3.1"\nnlu:\n'
        for intent, texts in examples.items():
            text = append_examples(text, intent, texts, path)
        _replace(path, text)
    return sorted(by_file)


def append_examples(text: str, intent: str, examples: Sequence[str], where: Path) -> str:
    """The NLU file ``text`` with ``examples`` added at the end of ``intent``'s examples block.

    An intent the file does not define gets a new block at the end of the file.
    """
    lines = text.splitlines()
    header = _find_intent(lines, intent)
    if header is None:
        block = [f"  - intent: {intent}", "    examples: |", *(f"      - {e}" for e in examples)]
        return "\n".join([*lines, *block]) + "\n"
    end, indent = _examples_block_end(lines, header, intent, where)
    lines[end:end] = [f"{indent}- {example}" for example in examples]
    return "\n".join(lines) + ("\n" if text.endswith("\n") or not text else "")


def _find_intent(lines: list[str], intent: str) -> int | None:
    pattern = re.compile(r"^\s*-\s+intent:\s*([\"']?)" + re.escape(intent) + r"\1\s*(#.*)?$")
    return next((i for i, line in enumerate(lines) if pattern.match(line)), None)


def _examples_block_end(lines: list[str], header: int, intent: str, where: Path) -> tuple[int, str]:
    """Where to insert after the last example of the intent's block, and the examples' indent."""
    start = next((i for i in range(header + 1, len(lines))
                  if re.match(r"^\s*examples:\s*\|[-+]?\s*$", lines[i])
                  or re.match(r"^\s*-\s", lines[i])), None)
    if start is None or not lines[start].lstrip().startswith("examples:"):
        raise ReviewError(f"{where}: cannot find the 'examples: |' block of {intent}")
    key_indent = _indent(lines[start])
    content = [i for i in _block_lines(lines, start, key_indent) if lines[i].strip()]
    indent = _indent(lines[content[0]]) if content else key_indent + 2
    return (content[-1] if content else start) + 1, " " * indent


def _block_lines(lines: list[str], start: int, key_indent: int) -> Iterator[int]:
    """Line numbers of the block scalar after line ``start``: up to a line indented no deeper
    than its key."""
    for i in range(start + 1, len(lines)):
        if lines[i].strip() and _indent(lines[i]) <= key_indent:
            return
        yield i


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _replace(path: Path, text: str) -> None:
    """Write via a temporary file and a rename: an interrupted apply leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    if path.exists():
        os.chmod(tmp.name, path.stat().st_mode & 0o777)
    os.replace(tmp.name, path)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
