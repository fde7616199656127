"""Does asking people what the model cannot tell pay? Simulated annotation rounds on a labelled pool.

A pool of answer pairs with known preferences is written to a JSONL file and imported into a real
store without its labels. Each round, a simulated annotator takes B records from the store's queue
(`next_records`, so `fill` and `uncertain` are the store's own strategies; `random` picks B
unlabelled records at random) and "annotates" each with its hidden label. The reward model is then
retrained on every label so far and its scores saved with `save_scores` (which re-orders an
uncertain queue), and its pairwise accuracy is measured on a held-out set of pairs.

The reward model is built in-process and tiny, so that this runs on a shared 2-core CPU in about a
minute: a Bradley-Terry model, linear in hashed bag-of-words features of each answer (numpy, L2,
Newton steps). The pool's preferences come from a hidden linear reward over the same kind of
features plus a length term the features do not see, and are sampled (not thresholded), so some
pairs are genuinely close calls and about one label in eight disagrees with the hidden reward.
No real reward model is used: even the smallest one would need minutes per retraining here.

Prints a table (mean held-out accuracy per strategy and label budget, with a 95 % bootstrap
interval over seeds, and the paired difference uncertain − random) and writes curves.png.

    .venv/bin/python benchmarks/bench_active_learning.py [--pool 1500] [--heldout 1000] [--batch 25]
        [--rounds 12] [--seeds 8] [--out curves.png]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path

# One BLAS thread: the matrices are tiny, and the CPU is shared.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from store import AnnotationInput  # noqa: E402
from store.connect import open_store  # noqa: E402

STRATEGIES = ("random", "fill", "uncertain")
DIM = 64  # hashed feature dimensions
VOCABULARY = 48
WORDS = [f"w{i}" for i in range(VOCABULARY)]


def features(text: str) -> np.ndarray:
    """Hashed bag of words, scaled by the answer's length."""
    vector = np.zeros(DIM)
    words = text.split()
    for word in words:
        vector[zlib.crc32(word.encode()) % DIM] += 1.0
    return vector / max(1, len(words)) ** 0.5


class Pool:
    """Answer pairs with a hidden preference: P(A ≻ B) = σ(β (r(A) − r(B)))."""

    def __init__(self, n: int, rng: np.random.Generator, word_value: np.ndarray, beta: float = 3.0) -> None:
        self.prompts, self.answers, self.labels, self.true_gap = [], [], [], []
        for i in range(n):
            pair, rewards = [], []
            for _ in range(2):
                length = int(rng.integers(4, 14))
                ids = rng.integers(0, VOCABULARY, length)
                pair.append(" ".join(WORDS[j] for j in ids))
                # The hidden reward: the words' values, and a taste for length that the features miss.
                rewards.append(word_value[ids].mean() + 0.05 * length)
            gap = rewards[0] - rewards[1]
            prefers_a = rng.random() < 1 / (1 + np.exp(-beta * gap))
            self.prompts.append(f"prompt {i}")
            self.answers.append(tuple(pair))
            self.labels.append(0 if prefers_a else 1)  # the index of the preferred answer
            self.true_gap.append(gap)
        self.x = np.array([features(a) - features(b) for a, b in self.answers])
        self.y = np.array([1.0 if label == 0 else 0.0 for label in self.labels])


def train(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 8) -> np.ndarray:
    """Bradley-Terry weights by Newton's method on the L2-regularised log-likelihood."""
    w = np.zeros(x.shape[1])
    if not len(y):
        return w
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        gradient = x.T @ (p - y) + l2 * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(x.shape[1])
        w -= np.linalg.solve(hessian, gradient)
    return w


def accuracy(w: np.ndarray, pool: Pool) -> float:
    """Held-out pairwise accuracy against the people's (hidden) labels; a zero score counts half."""
    margin = pool.x @ w
    right = np.where(margin == 0, 0.5, (margin > 0) == (pool.y == 1))
    return float(right.mean())


def ceiling(heldout: Pool) -> float:
    """How often the hidden reward itself agrees with the held-out labels: no model can do better."""
    return float(np.mean((np.array(heldout.true_gap) > 0) == (heldout.y == 1)))


def run(strategy: str, seed: int, args: argparse.Namespace, folder: Path, ceilings: list[float]) -> list[float]:
    rng = np.random.default_rng(seed)
    word_value = rng.normal(0, 1, VOCABULARY)  # the people's hidden taste, the same for both sets
    pool = Pool(args.pool, rng, word_value, args.beta)
    heldout = Pool(args.heldout, rng, word_value, args.beta)
    ceilings.append(ceiling(heldout))
    source = folder / f"pool-{strategy}-{seed}.jsonl"
    with source.open("w") as out:
        for i, (a, b) in enumerate(pool.answers):
            out.write(json.dumps({"id": f"p{i}", "prompt": pool.prompts[i], "responses": [a, b]}) + "\n")
    curve = []
    with open_store(folder / f"{strategy}-{seed}.duckdb") as store:
        store.import_file(source, dataset="pool", task="pair")
        if strategy != "random":
            store.update_dataset("pool", settings={"assignment": strategy})
        ids = store.record_ids("pool")
        index_of = {record_id: i for i, record_id in enumerate(ids)}
        labelled: list[int] = []
        picker = random.Random(seed)
        w = train(pool.x[:0], pool.y[:0])
        for round_number in range(1, args.rounds + 1):
            if strategy == "random":
                remaining = sorted(set(range(len(ids))) - set(labelled))
                chosen = [ids[i] for i in picker.sample(remaining, args.batch)]
            else:
                chosen = [r.id for r in store.next_records("pool", "sim", limit=args.batch)]
            for record_id in chosen:
                i = index_of[record_id]
                ranks = (1, 2) if pool.labels[i] == 0 else (2, 1)
                store.save_annotation(AnnotationInput(record_id, "sim", "submitted", ranks))
                labelled.append(i)
            w = train(pool.x[labelled], pool.y[labelled])
            scores = [f @ w for a, b in pool.answers for f in (features(a), features(b))]
            store.save_scores(f"rm-{round_number}", [(ids[k // 2], k % 2, float(s)) for k, s in enumerate(scores)])
            curve.append(accuracy(w, heldout))
    return curve


def bootstrap(values: np.ndarray, rng: np.random.Generator, draws: int = 2000) -> tuple[float, float]:
    """95 % percentile interval of the mean over seeds."""
    means = rng.choice(values, (draws, len(values))).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1500)
    parser.add_argument("--heldout", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=25, help="labels per round (B)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument(
        "--beta", type=float, default=3.0, help="how sharply people follow the hidden reward (larger: less noise)"
    )
    parser.add_argument("--out", type=Path, default=Path("curves.png"))
    args = parser.parse_args()
    began = time.perf_counter()
    curves = {s: np.zeros((args.seeds, args.rounds)) for s in STRATEGIES}
    ceilings: list[float] = []
    with tempfile.TemporaryDirectory(prefix="rlhf-al-") as tmp:
        for seed in range(args.seeds):
            for strategy in STRATEGIES:
                curves[strategy][seed] = run(strategy, seed, args, Path(tmp), ceilings)
    rng = np.random.default_rng(0)
    budgets = [args.batch * (r + 1) for r in range(args.rounds)]
    print(
        f"pool {args.pool:,} pairs, held-out {args.heldout:,}, B = {args.batch} per round, {args.seeds} seeds "
        f"({time.perf_counter() - began:.0f} s)"
    )
    print(
        f"label noise β = {args.beta:g}: the hidden reward itself agrees with {np.mean(ceilings):.3f} of the "
        "held-out labels (the ceiling)"
    )
    print("held-out pairwise accuracy, mean over seeds [95 % bootstrap interval]")
    header = f"{'labels':>6}  " + "  ".join(f"{s:^22}" for s in STRATEGIES) + f"  {'uncertain − random':^24}"
    print(header)
    for r, budget in enumerate(budgets):
        cells = []
        for s in STRATEGIES:
            low, high = bootstrap(curves[s][:, r], rng)
            cells.append(f"{curves[s][:, r].mean():.3f} [{low:.3f}, {high:.3f}]")
        diff = curves["uncertain"][:, r] - curves["random"][:, r]
        low, high = bootstrap(diff, rng)
        print(
            f"{budget:>6}  " + "  ".join(f"{c:^22}" for c in cells) + f"  {diff.mean():+.3f} [{low:+.3f}, {high:+.3f}]"
        )
    plot(curves, budgets, args, rng)


def plot(curves: dict[str, np.ndarray], budgets: list[int], args: argparse.Namespace, rng: np.random.Generator) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy in STRATEGIES:
        means = curves[strategy].mean(axis=0)
        bands = [bootstrap(curves[strategy][:, r], rng) for r in range(len(budgets))]
        ax.plot(budgets, means, marker="o", label=strategy)
        ax.fill_between(budgets, [b[0] for b in bands], [b[1] for b in bands], alpha=0.2)
    ax.set_xlabel("labels (records annotated)")
    ax.set_ylabel("held-out pairwise accuracy")
    ax.set_title(f"Reward-model accuracy by label budget ({args.seeds} seeds, 95 % bootstrap)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
