"""``switchboard nlu review``: the product owners' intent review loop from the terminal.

``review --since DATE [--until DATE] [--threshold 0.6] [--out FILE]`` writes a review file of
the period's misunderstood messages; ``review --apply FILE`` merges the reviewed file into
``data/nlu``. Errors are one line, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from contacts.serialize import parse_moment
from contacts.service import ContactError
from operations import nlu_review
from operations.nlu_review import DEFAULT_THRESHOLD, ApplyResult, ReviewError
from switchboard import migrate
from switchboard.settings import PROJECT_ROOT

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
HOLDOUT_FILE = PROJECT_ROOT / "tests" / "nlu_holdout.yml"
REVIEW_DIR = PROJECT_ROOT / "reports" / "nlu-review"


def add_commands(nlu_commands: argparse._SubParsersAction) -> None:
    """Add ``review`` to the ``switchboard nlu`` command group."""
    review = nlu_commands.add_parser(
        "review", help="write misunderstood customer messages for review, or apply a review",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = review.add_mutually_exclusive_group(required=True)
    mode.add_argument("--since", help="ISO date or date-time (UTC): start of the period")
    mode.add_argument("--apply", metavar="FILE", help="merge this reviewed file into data/nlu")
    review.add_argument("--until", help="ISO date or date-time (UTC), exclusive (default: now)")
    review.add_argument("--threshold", type=float,
                        help=f"below this confidence a message is reviewed ({DEFAULT_THRESHOLD})")
    review.add_argument("--out", help=f"review file to write (default: under {REVIEW_DIR})")
    review.add_argument("--nlu-dir", default=str(NLU_DIR), help=argparse.SUPPRESS)
    review.add_argument("--holdout", default=str(HOLDOUT_FILE), help=argparse.SUPPRESS)
    review.set_defaults(func=run_review)


def run_review(args: argparse.Namespace) -> int:
    """Write a review file or apply one; 2 and a one-line message when the request is wrong."""
    try:
        if args.apply:
            _apply(args)
        else:
            _write(args)
    except (ReviewError, ContactError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _write(args: argparse.Namespace) -> None:
    since = parse_moment(args.since, "--since")
    until = parse_moment(args.until, "--until")
    if until is not None and until <= since:
        raise ReviewError("--until must be after --since")
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    if not 0 < threshold <= 1:
        raise ReviewError("--threshold must be a confidence between 0 and 1")
    out = Path(args.out) if args.out else REVIEW_DIR / _default_name(since, until)
    if out.resolve().is_relative_to(Path(args.nlu_dir).resolve().parent):
        raise ReviewError(f"write the review file outside {Path(args.nlu_dir).parent}: "
                          "Rasa would train on it as it is")
    db = migrate.migrated_database(args.services.settings)
    with db.reading() as session:
        items = nlu_review.collect(session, since, until, threshold)
    groups = nlu_review.group(items)
    nlu_review.write_review(out, groups, since=since, until=until, threshold=threshold)
    print(f"Written: {out}")
    print(f"{_count(len(items), 'message')} to review, {len(groups)} after folding "
          "near-duplicates"
          + _reason_counts(items))
    print(f"Relabel them as the file's header says, then: switchboard nlu review --apply {out}")


def _apply(args: argparse.Namespace) -> None:
    if args.until or args.out or args.threshold is not None:
        raise ReviewError("--until, --threshold and --out go with --since, not --apply")
    result = nlu_review.apply(Path(args.apply), Path(args.nlu_dir), Path(args.holdout))
    _print_result(result)


def _print_result(result: ApplyResult) -> None:
    where = ", ".join(str(path) for path in result.changed_files)
    print(f"Added {_count(result.added_count, 'example')}" + (f" to {where}" if where else ""))
    for intent, examples in sorted(result.added.items()):
        print(f"  {intent}: {len(examples)}")
    print(f"Skipped {result.skipped_count}: {len(result.already_trained)} already in the "
          f"training data, {len(result.in_holdout)} in the held-out test set")
    if result.new_intents:
        print(f"New intents {', '.join(result.new_intents)} went to "
              f"{nlu_review.NEW_INTENTS_FILE}: declare them in domain/ before training")
    if result.added_count:
        print("See the effect: make nlu-report")
    if result.refused:
        print(f"warning: refused {_count(len(result.refused), 'example')} still labelled "
              f"{nlu_review.FALLBACK_INTENT}: move them to their real intent (or delete them) "
              "and apply again", file=sys.stderr)
        for text in result.refused:
            print(f"  - {text}", file=sys.stderr)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _reason_counts(items: list[nlu_review.ReviewItem]) -> str:
    counts = {reason: sum(reason in item.why for item in items) for reason in nlu_review.REASONS}
    shown = ", ".join(f"{reason} {n}" for reason, n in counts.items() if n)
    return f" ({shown})" if shown else ""


def _default_name(since: datetime, until: datetime | None) -> str:
    period = f"{since:%Y-%m-%d}-to-{until:%Y-%m-%d}" if until else f"{since:%Y-%m-%d}"
    return f"review-{period}.yml"
