"""NLU benchmarks on text nobody on this project wrote, next to the published figures.

    make nlu-bench                                   # every benchmark (hours on 2 cores)
    .venv/bin/python bench/nlu_bench.py --only banking77-10shot --epochs 20   # a quick look

Benchmarks (data and licences: ``../shared/nlu-benchmarks/README.md``):

- ``banking77-10shot``: BANKING77 (Casanueva et al. 2020, "Efficient Intent Detection with Dual
  Sentence Encoders"), 10 training examples per intent drawn from ``train.csv`` by a fixed seed
  (770), intent accuracy on the whole ``test.csv`` (3,080).
- ``banking77-full``: the same with all 10,003 training examples.
- ``clinc150``: CLINC150 (Larson et al. 2019, "An Evaluation Dataset for Intent Classification and
  Out-of-Scope Prediction"), the paper's oos-train scheme: trained on ``train`` plus ``oos_train``
  as a 151st intent, in-scope accuracy on ``val`` and out-of-scope recall on ``oos_val`` (the
  paper reports its test split, which the shared copy leaves out).
- ``holdout``: our assistant (full training, ``config.yml``) on ``tests/nlu_holdout.yml``, and how
  many of CLINC150's ``oos_val`` queries it declines (``out_of_scope`` or a fallback).

Each trains the NLU part of the given config (``--config``, default ``config.yml``) in this
process and parses every test message one at a time through ``Agent.parse_message``, the
server's own path; "CPU ms/msg" is this process's CPU time per parsed message (one TensorFlow
thread, as the server runs). Intent accuracy counts the classifier's top intent (a fallback's
``nlu_fallback`` is set aside, as the published figures have no fallback); out-of-scope recall
counts ``oos``/``out_of_scope`` or a fallback as declined. Results go to ``reports/nlu-bench/``
(one JSON per benchmark, so ``--only`` updates its own row) and one Markdown table of them all.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "1")  # as the launcher runs Rasa
os.environ.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "nlu-benchmarks"
REPORTS = ROOT / "reports" / "nlu-bench"
FALLBACK = "nlu_fallback"
DECLINED = {"oos", "out_of_scope", FALLBACK}
# Not for public data: the ResponseSelector needs a retrieval intent; PersonRequest overrides the
# classifier for a dialogue reason (a person asked for), which the published figures do not do.
NOT_FOR_BENCHMARKS = {"ResponseSelector", "bot.components.person_request.PersonRequest"}

# Published figures, best system and our targets (issue 14). Percent.
PUBLISHED = {
    "banking77-10shot": ("USE+ConveRT 85.19, BERT-tuned 83.42, BERT-fixed 67.55 "
                         "(Casanueva et al. 2020, Table 3)", 85.0),
    "banking77-full": ("BERT-tuned 93.66, USE+ConveRT 93.36 (Casanueva et al. 2020, Table 3)",
                       93.0),
    "clinc150-in-scope": ("BERT 96.9, MLP 93.5, Rasa 91.5 (Larson et al. 2019, Table 2, "
                          "oos-train, Full, test split)", None),
    "clinc150-oos-recall": ("MLP 47.4, Rasa 45.3, BERT 40.3 (same table; BERT with a "
                            "threshold 52.3)", 95.0),
    "holdout": ("-", 95.0),
    "holdout-clinc-oos-declined": ("-", None),
    "tune": ("-", None),
}


@dataclass
class Row:
    """One measured figure: what, how much (percent), at what cost, with which settings."""

    name: str
    metric: str
    value: float
    examples: int
    cpu_ms_per_message: float
    train_seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


# --- Data --------------------------------------------------------------------------------------

def banking77(split: str) -> list[tuple[str, str]]:
    """(text, intent) rows of ``banking77/<split>.csv`` in file order."""
    with (DATA / "banking77" / f"{split}.csv").open(newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def few_shot(rows: list[tuple[str, str]], per_intent: int, seed: int) -> list[tuple[str, str]]:
    """``per_intent`` examples of each intent, drawn by ``seed`` (Casanueva et al.'s protocol)."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(text)
    rng = random.Random(seed)
    return [(text, intent) for intent in sorted(by_intent)
            for text in rng.sample(by_intent[intent], per_intent)]


def clinc150() -> dict[str, list[tuple[str, str]]]:
    """CLINC150's splits as (text, intent); out-of-scope queries are labelled ``oos``."""
    splits = json.loads((DATA / "clinc150" / "train_val_oos.json").read_text())
    return {name: [(text, label) for text, label in rows] for name, rows in splits.items()}


# --- Training and parsing ------------------------------------------------------------------------

def bench_config(config: Path, epochs: int | None) -> dict[str, Any]:
    """The NLU part of ``config`` (no policies), optionally with every ``epochs`` capped."""
    loaded = yaml.safe_load(config.read_text())
    pipeline = [dict(c) for c in loaded["pipeline"] if c["name"] not in NOT_FOR_BENCHMARKS]
    for component in pipeline:
        if epochs is not None and "epochs" in component:
            component["epochs"] = epochs
    return {"recipe": "default.v1", "language": loaded.get("language", "en"),
            "pipeline": pipeline, "assistant_id": "nlu-bench"}


def train(examples: Iterable[tuple[str, str]] | Any, config: dict[str, Any], workdir: Path,
          domain: Path | None = None) -> Path:
    """Train an NLU-only model on ``examples`` ((text, intent) rows or Rasa ``TrainingData``)
    in this process; return the model archive."""
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = examples if isinstance(examples, TrainingData) else TrainingData(
        [Message.build(text=text, intent=intent) for text, intent in examples])
    nlu_file, config_file = workdir / "nlu.yml", workdir / "config.yml"
    RasaYAMLWriter().dump(nlu_file, data)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    model = train_nlu(str(config_file), str(nlu_file), str(workdir / "models"),
                      fixed_model_name="bench", domain=str(domain) if domain else None)
    if model is None:
        raise RuntimeError("NLU training failed")
    return Path(model)


def parser(model: Path) -> Callable[[str], dict[str, Any]]:
    """text -> Rasa's parse result, through the model loaded the way the server loads it."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    loop = asyncio.new_event_loop()
    return lambda text: loop.run_until_complete(agent.parse_message(text))


def classified(parse: dict[str, Any]) -> str:
    """The classifier's own top intent: a fallback's ``nlu_fallback`` set aside."""
    for candidate in parse.get("intent_ranking") or [parse["intent"]]:
        if candidate["name"] != FALLBACK:
            return candidate["name"]
    return FALLBACK


def timed(parse: Callable[[str], dict[str, Any]], texts: list[str]
          ) -> tuple[list[dict[str, Any]], float]:
    """Parse every text; return the results and this process's CPU ms per message."""
    parse(texts[0])  # the first parse builds TensorFlow's graph: not a customer's cost
    start = time.process_time()
    results = [parse(text) for text in texts]
    return results, (time.process_time() - start) * 1000 / len(texts)


def train_timed(examples: Any, config: dict[str, Any], workdir: Path,
                domain: Path | None = None) -> tuple[Path, float]:
    start = time.monotonic()
    model = train(examples, config, workdir, domain)
    return model, time.monotonic() - start


# --- Benchmarks ----------------------------------------------------------------------------------

def accuracy_row(name: str, train_rows: list[tuple[str, str]], test_rows: list[tuple[str, str]],
                 config: dict[str, Any], settings: dict[str, Any]) -> list[Row]:
    from bot.components.linear_intents import blend

    with tempfile.TemporaryDirectory() as workdir, BlendRecorder() as recorder:
        model, seconds = train_timed(train_rows, config, Path(workdir))
        results, cpu = timed(recorder.parse(parser(model)), [text for text, _ in test_rows])
    labels = [label for _, label in test_rows]
    right = sum(classified(r) == label for r, label in zip(results, labels, strict=True))
    if results and results[0].get("_blend") is not None:  # every mixing rule, same training
        blends = {}
        for combine, share, floor, _ in TUNE_BLEND[:7]:
            said = [max(blend(r["_blend"][1], r["_blend"][0], share, combine, floor).items(),
                        key=lambda kv: kv[1])[0] for r in results]
            blends[f"{combine} {share} {floor:g}"] = 100 * sum(
                s == label for s, label in zip(said, labels, strict=True)) / len(labels)
        print(f"{name}, intent accuracy % by mixing rule: {blends}")
        settings = {**settings, "blends": blends}
    return [Row(name, "intent accuracy %", 100 * right / len(test_rows), len(test_rows), cpu,
                seconds, settings)]


def bench_banking77_10shot(config: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    rows = few_shot(banking77("train"), 10, args.seed)
    return accuracy_row("banking77-10shot", rows, banking77("test"), config,
                        {"seed": args.seed, "train_examples": len(rows)})


def bench_banking77_full(config: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    rows = banking77("train")
    return accuracy_row("banking77-full", rows, banking77("test"), config,
                        {"train_examples": len(rows)})


def bench_clinc150(config: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    splits = clinc150()
    train_rows = splits["train"] + splits["oos_train"]
    with tempfile.TemporaryDirectory() as workdir:
        model, seconds = train_timed(train_rows, config, Path(workdir))
        parse = parser(model)
        in_scope, cpu = timed(parse, [text for text, _ in splits["val"]])
        oos, _ = timed(parse, [text for text, _ in splits["oos_val"]])
    # In scope: right only if the intent was given (a fallback on an in-scope query is a miss).
    labels = [label for _, label in splits["val"]]
    right = sum(r["intent"]["name"] == label for r, label in zip(in_scope, labels, strict=True))
    declined = sum(r["intent"]["name"] in DECLINED for r in oos)
    settings = {"train_examples": len(train_rows)}
    return [Row("clinc150-in-scope", "in-scope accuracy % (val)",
                100 * right / len(in_scope), len(in_scope), cpu, seconds, settings),
            Row("clinc150-oos-recall", "out-of-scope recall % (oos_val)",
                100 * declined / len(oos), len(oos), cpu, seconds, settings)]


def bench_holdout(config_path: Path, args: argparse.Namespace) -> list[Row]:
    """Our assistant trained on our data (the whole model, as ``make run`` trains it)."""
    from switchboard.nlu_report import predicted_label, score_holdout
    from switchboard.training import ensure_model

    # Its own folder: ensure_model keeps one model per kind in a folder, and the test model's
    # cache in models/ must survive a benchmark run.
    models = ROOT / "models" / "bench"
    config = config_path
    if args.epochs is not None or config_path.resolve() != (ROOT / "config.yml").resolve():
        loaded = yaml.safe_load(config_path.read_text())
        for component in [*loaded["pipeline"], *loaded.get("policies", [])]:
            if args.epochs is not None and "epochs" in component:
                component["epochs"] = args.epochs
        config = models / "bench-config.yml"
        models.mkdir(parents=True, exist_ok=True)
        config.write_text(yaml.safe_dump(loaded, sort_keys=False))
    start = time.monotonic()
    model = ensure_model(config, models)  # cached by a hash of its inputs
    seconds = time.monotonic() - start
    parse = parser(model)
    spent: list[float] = []

    def timed_parse(text: str) -> dict[str, Any]:
        begin = time.process_time()
        result = parse(text)
        spent.append(time.process_time() - begin)
        return result

    parse("hello")
    score = score_holdout(timed_parse)
    cpu = 1000 * sum(spent) / len(spent)
    oos = [text for text, _ in clinc150()["oos_val"]]
    declined = sum(predicted_label(parse(text)) in DECLINED for text in oos)
    settings = {"model": model.name, "trained_now": seconds > 5,
                "worst": [score.describe(label) for label in score.worst(5)]}
    return [Row("holdout", "intent accuracy % (tests/nlu_holdout.yml)", 100 * score.accuracy,
                score.total, cpu, seconds, settings),
            Row("holdout-clinc-oos-declined", "CLINC150 oos_val declined %",
                100 * declined / len(oos), len(oos), cpu, seconds, {"model": model.name})]


# --- Threshold tuning on data held out from training (val/oos_val stay an honest report) ----

TUNE_FALLBACK = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
TUNE_RETRIEVAL = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
TUNE_BLEND = tuple([("arithmetic", share, 0.0, None) for share in (0.3, 0.5, 0.7)]
                   + [("geometric", share, floor, None) for share in (0.5, 0.7)
                      for floor in (1e-6, 0.01)]
                   + [(combine, share, floor, veto)
                      for combine, share, floor in (("arithmetic", 0.5, 0.0),
                                                    ("geometric", 0.7, 1e-6))
                      for veto in (0.3, 0.4, 0.5, 0.6, 0.7)])
AMBIGUITY = 0.05  # the FallbackClassifier's ambiguity_threshold in config.yml


class BlendRecorder:
    """While in use, records the two rankings LinearIntentBlend mixes for each message
    (DIET's and the regression's), so every mixing rule can be scored from one training."""

    def __init__(self) -> None:
        self.last: tuple[dict[str, float], dict[str, float]] | None = None

    def __enter__(self) -> BlendRecorder:
        from bot.components import linear_intents

        self._component = linear_intents.LinearIntentBlend
        self._original = self._component._blend
        recorder = self

        def recording(component: Any, message: Any, linear: dict[str, float]) -> None:
            earlier = {c["name"]: c["confidence"] for c in message.get("intent_ranking") or []}
            recorder.last = (earlier, linear)
            recorder._original(component, message, linear)

        self._component._blend = recording
        return self

    def __exit__(self, *exc: object) -> None:
        self._component._blend = self._original

    def parse(self, parse: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
        """``parse``, with the two rankings added to each result under ``_blend``."""
        def recorded(text: str) -> dict[str, Any]:
            self.last = None
            result = parse(text)
            return {**result, "_blend": self.last}
        return recorded


def blended_outcome(parse: dict[str, Any], combine: str, share: float, floor: float,
                    veto: float | None, fallback: float = 0.3, retrieval: float = 0.3) -> str:
    """The label under one mixing rule, with config.yml's fallback, ambiguity and retrieval
    thresholds applied as the FallbackClassifier and RetrievalThreshold apply them."""
    from bot.components.linear_intents import blend, with_veto

    if parse.get("_blend") is None:
        return outcome(parse, fallback, retrieval)
    earlier, linear = parse["_blend"]
    mixed = with_veto(blend(linear, earlier, share, combine, floor), linear, veto)
    ranking = sorted(mixed.items(), key=lambda kv: -kv[1])
    (top, first), second = ranking[0], (ranking[1][1] if len(ranking) > 1 else 0.0)
    if first - second < AMBIGUITY:
        return FALLBACK
    return outcome({**parse, "intent": {"name": top, "confidence": first}}, fallback, retrieval)


def split_ours(share: float, seed: int, half_of: frozenset[str] = frozenset()
               ) -> tuple[Any, list[Any]]:
    """Our training data (data/nlu, entities and lookups kept) less ``share`` of each label's
    examples, and those held-out examples; of the examples whose lower-cased text is in
    ``half_of``, half are held out instead (enough of a small group to measure it)."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = load_data(str(ROOT / "data" / "nlu"))
    by_label: dict[str, list[Any]] = defaultdict(list)
    for example in data.intent_examples:
        by_label[example.get("intent_response_key") or example.get("intent")].append(example)
    rng = random.Random(seed)
    kept, held = [], []
    for label in sorted(by_label):
        special = [e for e in by_label[label] if e.get("text").lower() in half_of]
        examples = [e for e in by_label[label] if e.get("text").lower() not in half_of]
        for group, part in ((examples, share), (special, 0.5)):
            if not group:
                continue
            rng.shuffle(group)
            cut = max(1, round(part * len(group)))
            held += group[:cut]
            kept += group[cut:]
    trained = TrainingData(kept, entity_synonyms=data.entity_synonyms,
                           regex_features=data.regex_features, lookup_tables=data.lookup_tables)
    return trained, held


def unseen_negatives(per_intent: int, seed: int) -> list[str]:
    """CLINC150 train examples of the intents data/nlu/out_of_scope.yml draws from, that it does
    not hold: off-topic queries of the same kind, never trained on."""
    from switchboard.nlu_report import examples_by_label

    trained = {t.lower() for t in examples_by_label(ROOT / "data/nlu/out_of_scope.yml")
               .get("out_of_scope", [])}
    text = (ROOT / "data/nlu/out_of_scope.yml").read_text()
    clinc = clinc150()["train"]
    drawn_from = {label for t, label in clinc if t.lower() in trained}
    by_intent: dict[str, list[str]] = defaultdict(list)
    for t, label in clinc:
        if label in drawn_from and t.lower() not in trained:
            by_intent[label].append(t)
    rng = random.Random(seed)
    assert "CLINC150" in text  # the file says where its examples come from
    return [t for label in sorted(by_intent) for t in rng.sample(by_intent[label], per_intent)]


def outcome(parse: dict[str, Any], fallback: float, retrieval: float) -> str:
    """The label a message gets with these thresholds: declined as ``nlu_fallback``."""
    from switchboard.nlu_report import predicted_label

    intent = parse["intent"]
    if intent["name"] == FALLBACK or intent["confidence"] < fallback:
        return FALLBACK
    label = predicted_label(parse)
    if intent["name"] == "faq":
        response = parse.get("response_selector", {}).get("faq", {}).get("response", {})
        if (response.get("confidence") or 0) < retrieval:
            return FALLBACK
    return label


def bench_tune(config_path: Path, args: argparse.Namespace) -> list[Row]:
    """Train on 80% of our data, sweep the FallbackClassifier and RetrievalThreshold
    thresholds on the other 20% and on unseen CLINC150 off-topic queries."""
    loaded = yaml.safe_load(config_path.read_text())
    pipeline = []
    for component in loaded["pipeline"]:
        component = dict(component)
        if component["name"] == "FallbackClassifier":  # thresholds applied below instead
            component.update(threshold=0.0, ambiguity_threshold=0.0)
        if component["name"].endswith("RetrievalThreshold"):
            continue
        if args.epochs is not None and "epochs" in component:
            component["epochs"] = args.epochs
        pipeline.append(component)
    config = {"recipe": "default.v1", "language": "en", "pipeline": pipeline,
              "assistant_id": "nlu-bench"}
    # oos_train's queries (outside all 150 CLINC intents) are what oos_val is like: half of
    # those out_of_scope.yml holds are held out, to measure off-topic recall honestly
    open_domain = frozenset(text.lower() for text, _ in clinc150()["oos_train"])
    trained, held = split_ours(0.2, args.seed, open_domain)
    with tempfile.TemporaryDirectory() as workdir, BlendRecorder() as recorder:
        model, seconds = train_timed(trained, config, Path(workdir), ROOT / "domain")
        parse = recorder.parse(parser(model))
        ours, cpu = timed(parse, [m.get("text") for m in held])
        negatives, _ = timed(parse, unseen_negatives(2, args.seed))
    labels = [m.get("intent_response_key") or m.get("intent") for m in held]
    blends = []
    for combine, share, floor, veto in TUNE_BLEND:  # how DIET and the regression are mixed
        said = [blended_outcome(p, combine, share, floor, veto) for p in ours]
        right = sum(got == label for got, label in zip(said, labels, strict=True))
        held_oos = [got for got, label in zip(said, labels, strict=True) if label in DECLINED]
        held_open = [got for got, message in zip(said, held, strict=True)
                     if message.get("text").lower() in open_domain]
        declined = sum(blended_outcome(p, combine, share, floor, veto) in DECLINED
                       for p in negatives)
        blends.append({"combine": combine, "blend": share, "floor": floor, "veto": veto,
                       "in_scope": 100 * right / len(ours),
                       "held_out_of_scope": 100 * sum(g in DECLINED for g in held_oos)
                       / max(1, len(held_oos)),
                       "held_open_domain": 100 * sum(g in DECLINED for g in held_open)
                       / max(1, len(held_open)), "open_domain_examples": len(held_open),
                       "declined": 100 * declined / len(negatives)})
    print("combine blend floor veto in-scope% held-out-of-scope-declined% "
          "held-oos_train-declined% negatives-declined% "
          "(fallback 0.3, ambiguity 0.05, retrieval 0.3)")
    for b in blends:
        print(f"{b['combine']} {b['blend']:.1f} {b['floor']:g} {b['veto']} {b['in_scope']:.1f} "
              f"{b['held_out_of_scope']:.1f} {b['held_open_domain']:.1f} "
              f"(of {b['open_domain_examples']}) {b['declined']:.1f}")
    grid = []
    for fallback in TUNE_FALLBACK:
        for retrieval in TUNE_RETRIEVAL:
            right = sum(outcome(p, fallback, retrieval) == label
                        for p, label in zip(ours, labels, strict=True))
            declined = sum(outcome(p, fallback, retrieval) in DECLINED for p in negatives)
            grid.append({"fallback": fallback, "retrieval": retrieval,
                         "in_scope": 100 * right / len(ours),
                         "declined": 100 * declined / len(negatives)})
    best = max(grid, key=lambda g: (g["in_scope"] + g["declined"], g["in_scope"]))
    print("fallback retrieval in-scope% declined%")
    for g in grid:
        print(f"{g['fallback']:.1f} {g['retrieval']:.1f} {g['in_scope']:.1f} {g['declined']:.1f}")
    settings = {"best": best, "grid": grid, "blends": blends, "held_out": len(ours),
                "negatives": len(negatives)}
    return [Row("tune", f"in-scope % / declined % at fallback {best['fallback']}, retrieval "
                f"{best['retrieval']}", best["in_scope"], len(ours), cpu, seconds, settings)]


BENCHMARKS = {
    "banking77-10shot": bench_banking77_10shot,
    "banking77-full": bench_banking77_full,
    "clinc150": bench_clinc150,
    "holdout": None,  # needs the whole config (policies too): see run()
    "tune": None,  # thresholds for config.yml, on data held out from training: see run()
}


# --- Report --------------------------------------------------------------------------------------

def save(rows: list[Row], config: Path, epochs: int | None) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    for row in rows:
        row.settings.update({"config": str(config.relative_to(ROOT) if config.is_relative_to(ROOT)
                                           else config),
                             "epochs": epochs or "as configured", "date": date.today().isoformat()})
        (REPORTS / f"{row.name}.json").write_text(json.dumps(asdict(row), indent=2))


def table() -> str:
    """Every saved row, in benchmark order, with the published figures and targets beside."""
    lines = ["| benchmark | metric | ours | published | target | CPU ms/msg | train s | "
             "settings |", "|---|---|---|---|---|---|---|---|"]
    for name, (published, target) in PUBLISHED.items():
        path = REPORTS / f"{name}.json"
        if not path.exists():
            continue
        row = json.loads(path.read_text())
        s = row["settings"]
        settings = f"{s['config']}, epochs {s['epochs']}, {s['date']}"
        goal = f"≥ {target:.0f}" if target else "-"
        lines.append(f"| {name} | {row['metric']} | **{row['value']:.1f}** ({row['examples']}) | "
                     f"{published} | {goal} | "
                     f"{row['cpu_ms_per_message']:.1f} | {row['train_seconds']:.0f} | "
                     f"{settings} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(BENCHMARKS)}")
    config = bench_config(args.config, args.epochs)
    for name in chosen:
        print(f"== {name}", flush=True)
        bench = BENCHMARKS[name]
        if name == "holdout":
            rows = bench_holdout(args.config, args)
        elif name == "tune":
            rows = bench_tune(args.config, args)
        else:
            rows = bench(config, args)
        save(rows, args.config, args.epochs)
        for row in rows:
            print(f"{row.name}: {row.value:.1f} ({row.examples}), "
                  f"{row.cpu_ms_per_message:.1f} CPU ms/msg, trained in {row.train_seconds:.0f} s",
                  flush=True)
    report = table()
    (REPORTS / "nlu-bench.md").write_text("# NLU benchmarks\n\n" + report + "\n")
    print("\n" + report)


def main(argv: list[str] | None = None) -> None:
    parser_ = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser_.add_argument("--only", help=f"comma-separated, of: {', '.join(BENCHMARKS)}")
    parser_.add_argument("--config", type=Path, default=ROOT / "config.yml",
                         help="the pipeline to measure (default: config.yml)")
    parser_.add_argument("--epochs", type=int, help="cap every component's epochs (quick runs)")
    parser_.add_argument("--seed", type=int, default=0, help="the 10-shot draw")
    run(parser_.parse_args(argv))


if __name__ == "__main__":
    main()
