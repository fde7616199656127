"""`make walk`: the loop proves itself on a rule whose truth is computable.

Everything goes through the product, as a team would use it:

1. prompts ("What is a volcano?") are imported by `rlhf-tui generate --prompts`, which writes four
   candidates per prompt from the base model, into three datasets that share no prompt: `walk-train`
   (every policy and the reward model RLOO optimises), `walk-judge` (the judge's reward model only) and
   the held-out prompts every policy is judged on;
2. a scripted annotator ranks every record by the written RULE below and submits the ranking through
   the store, like a person (annotator `rule-annotator`); `rlhf-tui export` writes the pairs out;
3. `rlhf-tui train` sft, reward, dpo, kto (from the base) and rloo (from the SFT adapter, against that
   reward model), and a judge reward model on `walk-judge`;
4. `rlhf-tui eval` answers the held-out prompts with every policy and the base (greedy) and judges each
   pair three ways: the rule itself (the ground truth, with a 95% Wilson interval), the judge reward
   model, and the mean answer length.

It prints one table, writes OUTPUT/curves.png (every run's training curves) and exits 1, naming the
reason it reads in that run's logs (masked steps, KL near 0, reward or loss flat), when a policy does not
beat the base on the rule with the interval's lower bound above 0.5.

    python scripts/walk.py                       # SmolLM2-135M-Instruct (make demo-model), CPU, ~20 min (2 cores)
    python scripts/walk.py --quick               # a tiny random model, minutes: the mechanics only
    python scripts/walk.py --device gpu          # the QLoRA path: 4-bit NF4, bf16, paged AdamW
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RULE = """\
The better answer (1) names the thing the prompt asks about, (2) is finished: it ends with ".", "!" or
"?", and (3) is at most two sentences long. An answer that meets more of these ranks higher; between
two that meet as many, the one with fewer sentences; still equal, they tie."""
ANNOTATOR = "rule-annotator"
THINGS = [
    "volcano",
    "glacier",
    "rainbow",
    "tornado",
    "earthquake",
    "comet",
    "planet",
    "star",
    "moon",
    "desert",
    "forest",
    "river",
    "ocean",
    "island",
    "mountain",
    "cloud",
    "thunderstorm",
    "hurricane",
    "tsunami",
    "magnet",
    "battery",
    "computer",
    "telephone",
    "bicycle",
    "airplane",
    "rocket",
    "submarine",
    "bridge",
    "castle",
    "pyramid",
    "library",
    "museum",
    "hospital",
    "piano",
    "violin",
    "guitar",
    "drum",
    "camera",
    "telescope",
    "microscope",
    "compass",
    "clock",
    "calendar",
    "map",
    "dictionary",
    "newspaper",
    "novel",
    "poem",
    "painting",
    "sculpture",
    "theatre",
    "vaccine",
    "virus",
    "bacterium",
    "cell",
    "protein",
    "atom",
    "molecule",
    "electron",
    "photon",
    "gravity",
    "magnetism",
    "electricity",
    "volcano",
    "crater",
    "fossil",
    "dinosaur",
    "whale",
    "dolphin",
    "shark",
    "octopus",
    "penguin",
    "eagle",
    "owl",
    "bee",
    "ant",
    "butterfly",
    "spider",
    "elephant",
    "giraffe",
    "tiger",
    "wolf",
    "fox",
    "rabbit",
    "horse",
    "cow",
    "sheep",
    "goat",
    "garden",
    "farm",
    "bakery",
    "market",
    "bank",
    "passport",
]
# A dozen steps, so rates well above the defaults (5e-5 DPO and KTO, 1e-5 RLOO: a run of hundreds of steps).
# Measured on this walk: DPO at 5e-5 moved its margin 0.06 in 12 steps and did not beat the base (0.604,
# lower bound 0.408); at 5e-4 it did. RLOO at 3e-5 for 6 steps left the SFT policy where it was.
LORA_POLICY_LR = "5e-4"
RLOO_LR = "2e-4"
TEMPLATES = ("What is a {}?", "Tell me about the {}.", "Explain what a {} is.", "Describe a {}.")


# ---- the rule ------------------------------------------------------------------------------------


def sentences(text: str) -> int:
    """Sentences in an answer: runs ending in . ! or ?, and an unfinished tail counts as one more."""
    text = text.strip()
    finished = re.findall(r"[^.!?]*[^.!?\s][^.!?]*[.!?]+", text)
    tail = re.sub(r"[^.!?]*[.!?]+", "", text).strip()
    return len(finished) + (1 if tail else 0)


def rule_score(answer: str, thing: str) -> tuple[int, int]:
    """(criteria met, −sentences): a larger tuple is a better answer under RULE."""
    text = answer.strip()
    n = sentences(text)
    names = re.search(rf"\b{re.escape(thing)}", text, re.IGNORECASE) is not None
    finished = bool(text) and text[-1] in ".!?"
    return int(names) + int(finished) + int(1 <= n <= 2), -n


def rule_ranks(answers: list[str], thing: str) -> tuple[int, ...]:
    """Dense ranks as the store wants them (1 = best, equal answers share a rank)."""
    scores = [rule_score(a, thing) for a in answers]
    distinct = sorted(set(scores), reverse=True)
    return tuple(1 + distinct.index(s) for s in scores)


def thing_of(prompt: str) -> str:
    for thing in sorted(THINGS, key=len, reverse=True):
        if re.search(rf"\b{thing}\b", prompt):
            return thing
    raise ValueError(f"no known thing in the prompt {prompt!r}")


# ---- the steps -----------------------------------------------------------------------------------


@dataclass
class Walk:
    out: Path
    base: str
    quick: bool
    device: str
    log: list[str] = field(default_factory=list)

    @property
    def store(self) -> Path:
        return self.out / "walk.duckdb"

    def cli(self, name: str, *args: str) -> None:
        """One `rlhf-tui` command, its output in OUTPUT/logs/NAME.log; a failure stops the walk with its tail."""
        logs = self.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "rlhf_tui.cli", *args]
        print(f"== {name}: rlhf-tui {' '.join(args)}", flush=True)
        started = time.monotonic()
        env = {**os.environ, "RLHF_TUI_STORE": str(self.store), "PYTHONPATH": str(REPO)}
        with (logs / f"{name}.log").open("w") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO).returncode
        took = time.monotonic() - started
        self.log.append(f"{name}: {took:.0f} s")
        print(f"   {name} took {took:.0f} s", flush=True)
        if code:
            tail = (logs / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
            sys.exit(f"walk: {name} failed (exit {code}); the end of {logs / f'{name}.log'}:\n" + "\n".join(tail))

    def settings(self) -> dict[str, int]:
        if self.quick:
            return dict(train=8, judge=8, heldout=8, new_tokens=24, steps=3, rloo_steps=2, max_length=96)
        return dict(train=32, judge=16, heldout=24, new_tokens=96, steps=12, rloo_steps=12, max_length=192)

    def precision(self) -> list[str]:
        if self.device == "gpu":  # the QLoRA path
            return ["--4bit", "--bf16", "--optim", "paged_adamw_8bit", "--logging-steps", "1"]
        return ["--no-4bit", "--no-bf16", "--no-gradient-checkpointing", "--logging-steps", "1"]

    def inference(self) -> list[str]:
        return ["--4bit"] if self.device == "gpu" else ["--no-4bit"]


def prompt_sets(s: dict[str, int]) -> dict[str, list[dict]]:
    """Three prompt sets that share no thing, so no prompt either: train, judge, held out."""
    things = list(dict.fromkeys(THINGS))
    needed = s["train"] + s["judge"] + s["heldout"]
    rows = [
        {"id": f"p{i}", "prompt": TEMPLATES[i % len(TEMPLATES)].format(things[i % len(things)])} for i in range(needed)
    ]
    by_thing: dict[str, list[dict]] = {}
    for r in rows:
        by_thing.setdefault(thing_of(r["prompt"]), []).append(r)
    groups = list(by_thing.values())
    sets: dict[str, list[dict]] = {"train": [], "judge": [], "heldout": []}
    for g in groups:  # whole things go to one set: the sets share no asked-about thing
        name = min(sets, key=lambda k: len(sets[k]) / s[k])
        sets[name].extend(g)
    return sets


def annotate(walk: Walk, dataset: str) -> int:
    """The scripted annotator: rank every record by RULE and submit it through the store."""
    from store import AnnotationInput
    from store.connect import open_store

    store = open_store(walk.store)
    try:
        records = store.get_records(store.record_ids(dataset))
        for record in records:
            prompt = record.prompt if isinstance(record.prompt, str) else json.dumps(record.prompt)
            ranks = rule_ranks([c.text for c in record.candidates], thing_of(prompt))
            store.save_annotation(
                AnnotationInput(
                    record_id=record.id,
                    annotator=ANNOTATOR,
                    status="submitted",
                    ranks=ranks,
                    shown_order=tuple(range(len(ranks))),
                    comment="scripted: " + RULE.splitlines()[0],
                )
            )
    finally:
        store.close()
    return len(records)


# ---- judging -------------------------------------------------------------------------------------


def wilson(points: float, n: int) -> tuple[float, float]:
    from trainers.evaluation import wilson_interval

    return wilson_interval(points, n)


@dataclass
class Verdict:
    policy: str
    rule: float
    rule_low: float
    rule_high: float
    judge: float
    judge_low: float
    judge_high: float
    tokens: float
    base_tokens: float
    satisfied: float  # share of the policy's answers meeting all three criteria
    base_satisfied: float
    n: int


def verdict(policy: str, pairs: list[dict], things: dict[str, str]) -> Verdict:
    """One policy's answers against the other side's (`reference_answer`), prompt by prompt."""
    rule_points = judge_points = 0.0
    full = base_full = 0
    for r in pairs:
        thing = things[r["id"]]
        p, b = rule_score(r["policy_answer"], thing), rule_score(r["reference_answer"], thing)
        rule_points += 1.0 if p > b else 0.5 if p == b else 0.0
        judge_points += {"policy": 1.0, "tie": 0.5}.get(r["winner"], 0.0)
        full += p[0] == 3
        base_full += b[0] == 3
    n = len(pairs)
    rl, rh = wilson(rule_points, n)
    jl, jh = wilson(judge_points, n)
    return Verdict(
        policy=policy,
        rule=rule_points / n,
        rule_low=rl,
        rule_high=rh,
        judge=judge_points / n,
        judge_low=jl,
        judge_high=jh,
        tokens=sum(r.get("policy_tokens", 0) for r in pairs) / n,
        base_tokens=sum(r.get("reference_tokens", 0) for r in pairs) / n,
        satisfied=full / n,
        base_satisfied=base_full / n,
        n=n,
    )


def judge_rows(rows: list[dict], things: dict[str, str]) -> list[Verdict]:
    """Every policy against the base: `rlhf-tui eval`'s rows, judged by the rule and by the judge model."""
    policies = dict.fromkeys(r["policy"] for r in rows)
    return [verdict(policy, [r for r in rows if r["policy"] == policy], things) for policy in policies]


def head_to_head(rows: list[dict], policy: str, against: str, things: dict[str, str]) -> Verdict:
    """POLICY against AGAINST (RLOO against the SFT policy it started from) on the prompts both answered
    in the same `eval`: greedy answers, so each is the answer that policy gives; the judge's scores compared
    as `eval` compares them (a tie within its tolerance)."""
    from trainers.evaluation import judge

    theirs = {r["id"]: r for r in rows if r["policy"] == against}
    pairs = []
    for mine in (r for r in rows if r["policy"] == policy and r["id"] in theirs):
        other = theirs[mine["id"]]
        (winner,) = judge([mine["policy_score"]], [other["policy_score"]])
        pairs.append(
            {
                "id": mine["id"],
                "policy_answer": mine["policy_answer"],
                "reference_answer": other["policy_answer"],
                "winner": winner,
                "policy_tokens": mine.get("policy_tokens", 0),
                "reference_tokens": other.get("policy_tokens", 0),
            }
        )
    return verdict(f"{policy} vs {against}", pairs, things)


def reason_from_logs(run: Path) -> str:
    """Why a run may not have moved its policy, read from its metrics.json."""
    path = run / "metrics.json"
    if not path.is_file():
        return f"no {path}"
    train = json.loads(path.read_text()).get("train", [])
    if not train:
        return "no training step was logged"

    def series(key: str) -> list[float]:
        return [float(row[key]) for row in train if row.get(key) is not None]

    notes = []
    cut = series("completions/clipped_ratio")
    if cut:
        masked = sum(c >= 0.999 for c in cut)
        notes.append(
            f"{masked} of {len(cut)} steps had every completion cut (masked); mean cut {sum(cut) / len(cut):.2f}"
        )
    kl = series("kl")
    if kl:
        mean_kl = sum(abs(v) for v in kl) / len(kl)
        notes.append(f"KL {'≈ 0 ' if mean_kl < 1e-3 else ''}(mean {mean_kl:.2g})")
    for key, label in (("reward", "reward"), ("rewards/margins", "reward margin"), ("loss", "loss")):
        values = series(key)
        if len(values) >= 2:
            k = max(1, len(values) // 3)
            first, last = sum(values[:k]) / k, sum(values[-k:]) / k
            trend = "flat" if abs(last - first) < 0.05 * max(1e-9, abs(first)) + 1e-3 else "moved"
            notes.append(f"{label} {trend}: {first:.3f} → {last:.3f} (first/last third of {len(values)} steps)")
            break
    return "; ".join(notes)


def table(verdicts: list[Verdict]) -> str:
    head = ["", *(v.policy if " vs " in v.policy else f"{v.policy} vs base" for v in verdicts)]
    rows = [
        ["rule: win rate (tie ½)", *(f"{v.rule:.3f}" for v in verdicts)],
        ["rule: 95% Wilson interval", *(f"{v.rule_low:.3f} – {v.rule_high:.3f}" for v in verdicts)],
        ["rule: all three met (policy / other)", *(f"{v.satisfied:.2f} / {v.base_satisfied:.2f}" for v in verdicts)],
        ["judge RM: win rate (tie ½)", *(f"{v.judge:.3f}" for v in verdicts)],
        ["judge RM: 95% Wilson interval", *(f"{v.judge_low:.3f} – {v.judge_high:.3f}" for v in verdicts)],
        ["mean answer tokens (policy / other)", *(f"{v.tokens:.1f} / {v.base_tokens:.1f}" for v in verdicts)],
        ["held-out prompts", *(str(v.n) for v in verdicts)],
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [head, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def plot(runs: dict[str, Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # RLOO's loss is 0 at every step by construction (one pass per batch: the ratio is 1 and the advantages of
    # each prompt's answers sum to 0), while its gradient is not: its curves are the reward and the KL.
    series = {"rloo": (("reward", "--"), ("kl", ":")), "dpo": (("loss", "-"), ("rewards/margins", "--"))}
    series["kto"] = series["dpo"]
    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.2), squeeze=False)
    for ax, (name, run) in zip(axes[0], runs.items()):
        train = (
            json.loads((run / "metrics.json").read_text()).get("train", []) if (run / "metrics.json").is_file() else []
        )
        steps = [row.get("step", i + 1) for i, row in enumerate(train)]
        for key, style in series.get(name, (("loss", "-"),)):
            values = [row.get(key) for row in train]
            if any(v is not None for v in values):
                ax.plot(
                    [s for s, v in zip(steps, values) if v is not None],
                    [v for v in values if v is not None],
                    style,
                    label=key,
                )
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---- the walk ------------------------------------------------------------------------------------


def run(walk: Walk) -> int:
    s = walk.settings()
    out = walk.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "RULE.md").write_text(RULE + "\n")
    sets = prompt_sets(s)
    files = {}
    for name, rows in sets.items():
        files[name] = out / f"prompts-{name}.jsonl"
        files[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    things = {r["id"]: thing_of(r["prompt"]) for r in sets["heldout"]}
    print(
        f"walk: {walk.base} on the {walk.device}; {len(sets['train'])} train, {len(sets['judge'])} judge, "
        f"{len(sets['heldout'])} held-out prompts; rule:\n{RULE}",
        flush=True,
    )

    new_tokens, length = str(s["new_tokens"]), str(s["max_length"])
    for name in ("train", "judge"):
        walk.cli(
            f"generate-{name}",
            "generate",
            "--model",
            walk.base,
            "--prompts",
            str(files[name]),
            "--into",
            f"walk-{name}",
            "--n",
            "4",
            "--temperature",
            "1.0",
            "--max-new-tokens",
            new_tokens,
            *walk.inference(),
        )
        ranked = annotate(walk, f"walk-{name}")
        print(f"   {ranked} records of walk-{name} ranked by {ANNOTATOR}", flush=True)
        walk.cli(
            f"export-{name}",
            "export",
            "--dataset",
            f"walk-{name}",
            "--format",
            "preference",
            "--out",
            str(out / f"walk-{name}.preference.jsonl"),
        )

    p = walk.precision()
    common = ["--max-length", length, "--batch-size", "4", "--grad-accum", "1", *p]
    runs = {k: out / k for k in ("sft", "reward", "dpo", "kto", "rloo", "judge")}

    def train(name: str, kind: str, *options: str, dataset: str = "walk-train", seed: str = "1") -> None:
        walk.cli(
            f"train-{name}",
            "train",
            kind,
            *("--dataset", dataset, "--model", walk.base, "--output", str(runs[name])),
            *("--max-steps", str(s["steps"]), "--eval-split", "0.15", "--seed", seed),
            *options,
            *common,
        )

    train("sft", "sft")
    train("reward", "reward")
    train("judge", "reward", dataset="walk-judge", seed="2")  # prompts no policy and no other model saw
    train("dpo", "dpo", "--learning-rate", LORA_POLICY_LR)
    train("kto", "kto", "--learning-rate", LORA_POLICY_LR)
    walk.cli(
        "train-rloo",
        "train",
        "rloo",
        *("--dataset", "walk-train", "--model", str(runs["sft"]), "--reward-model", str(runs["reward"])),
        *("--output", str(runs["rloo"]), "--max-steps", str(s["rloo_steps"]), "--learning-rate", RLOO_LR),
        *("--num-generations", "4", "--batch-size", "8", "--grad-accum", "1", "--max-new-tokens", new_tokens),
        *("--max-length", length, "--sample-every", "2", "--seed", "1", *p),
    )
    policies = ["sft", "dpo", "kto", "rloo"]
    walk.cli(
        "eval",
        "eval",
        "--reference",
        walk.base,
        *(a for k in policies for a in ("--policy", str(runs[k]))),
        "--reward-model",
        str(runs["judge"]),
        "--prompts",
        str(files["heldout"]),
        "--max-new-tokens",
        new_tokens,
        "--max-length",
        length,
        "--out",
        str(out / "eval.parquet"),
        *walk.inference(),
    )

    import pyarrow.parquet as pq

    rows = pq.read_table(out / "eval.parquet").to_pylist()
    names = {str(runs[k]): k for k in policies}
    for r in rows:
        r["policy"] = names.get(r["policy"], r["policy"])
    verdicts = judge_rows(rows, things)
    # RLOO starts from the SFT adapter: beating the base shows SFT's gain as well; beating SFT shows its own.
    verdicts.append(head_to_head(rows, "rloo", "sft", things))
    plot({k: runs[k] for k in ("sft", "reward", "dpo", "kto", "rloo", "judge")}, out / "curves.png")
    print("\n" + table(verdicts), flush=True)
    print(f"\nsteps: {', '.join(walk.log)}\ncurves: {out / 'curves.png'}; answers: {out / 'eval.parquet'}")
    failed = [v for v in verdicts if v.rule_low <= 0.5]
    for v in failed:
        policy, _, other = v.policy.partition(" vs ")
        print(
            f"FAIL {v.policy}: does not beat {other or 'the base'} on the rule (win rate {v.rule:.3f}, lower bound "
            f"{v.rule_low:.3f} <= 0.5); its log: {reason_from_logs(runs[policy])}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models" / "SmolLM2-135M-Instruct"))
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "walk")
    parser.add_argument("--quick", action="store_true", help="a tiny random model and a few steps: the mechanics")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    a = parser.parse_args(argv)
    model = a.model
    if a.quick:
        sys.path.insert(0, str(REPO / "tests"))
        from trainers_fixtures import build_tiny_model

        model = str(build_tiny_model(a.out / "tiny-model", initializer_range=0.2))
    elif not Path(model).is_dir():
        sys.exit(f"walk: no model at {model}: run `make demo-model` first")
    return run(Walk(out=a.out, base=model, quick=a.quick, device=a.device))


if __name__ == "__main__":
    sys.exit(main())
