"""The walk's ground truth (scripts/walk.py): its written rule, its prompt sets and the reasons it gives."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def walk():
    spec = importlib.util.spec_from_file_location("walk_script", REPO / "scripts" / "walk.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_sentences_count_an_unfinished_tail_as_one_more(walk):
    assert walk.sentences("A volcano is a mountain. It erupts!") == 2
    assert walk.sentences("A volcano is a mountain. It erupts when magma") == 2
    assert walk.sentences("Version 2.5 is out. Really?") == 3  # a plain rule, stated as such: "2." ends one
    assert walk.sentences("") == 0


def test_a_short_finished_answer_naming_the_thing_beats_a_long_cut_one(walk):
    short = "A volcano is a mountain that erupts lava."
    long_cut = "A volcano is a natural feature. It has a crater. Magma rises through it. Volcanoes can be found in"
    assert walk.rule_score(short, "volcano") == (3, -1)
    assert walk.rule_score(long_cut, "volcano") == (1, -4)
    assert walk.rule_score("It is a mountain that erupts.", "volcano") == (2, -1)  # does not name it
    assert walk.rule_ranks([long_cut, short, short, "It erupts."], "volcano") == (3, 1, 1, 2)


def test_the_three_prompt_sets_share_no_asked_about_thing(walk):
    sets = walk.prompt_sets(dict(train=40, judge=24, heldout=32))
    things = {name: {walk.thing_of(r["prompt"]) for r in rows} for name, rows in sets.items()}
    assert not (things["train"] & things["judge"] or things["train"] & things["heldout"])
    assert not things["judge"] & things["heldout"]
    assert sum(len(rows) for rows in sets.values()) == 96
    assert len({r["id"] for rows in sets.values() for r in rows}) == 96


def test_the_rule_judges_each_policy_against_the_base_with_a_wilson_interval(walk):
    rows = [
        {
            "policy": "sft",
            "id": "a",
            "policy_answer": "A volcano erupts.",
            "reference_answer": "It. Is. Long",
            "winner": "policy",
            "policy_tokens": 4,
            "reference_tokens": 9,
        },
        {
            "policy": "sft",
            "id": "b",
            "policy_answer": "An owl hoots.",
            "reference_answer": "An owl hoots.",
            "winner": "tie",
            "policy_tokens": 4,
            "reference_tokens": 4,
        },
    ]
    (verdict,) = walk.judge_rows(rows, {"a": "volcano", "b": "owl"})
    assert (verdict.rule, verdict.judge, verdict.n) == (0.75, 0.75, 2)
    assert verdict.rule_low < 0.5 < verdict.rule_high  # two prompts prove nothing
    assert (verdict.tokens, verdict.base_tokens) == (4.0, 6.5)
    assert (verdict.satisfied, verdict.base_satisfied) == (1.0, 0.5)


def test_rloo_is_judged_against_the_sft_policy_it_started_from_prompt_by_prompt(walk):
    def row(policy, id, answer, score, tokens):
        return {"policy": policy, "id": id, "policy_answer": answer, "policy_score": score, "policy_tokens": tokens}

    rows = [
        row("sft", "a", "A volcano erupts. It is hot. It is tall.", 0.2, 12),
        row("sft", "b", "An owl hoots.", 0.5, 4),
        row("rloo", "b", "An owl hoots.", 0.5, 4),  # the same answer, the same score: a tie either way
        row("rloo", "a", "A volcano erupts.", 0.9, 4),
        row("rloo", "c", "A comet.", 0.9, 3),  # sft has no answer here: not a pair
    ]
    v = walk.head_to_head(rows, "rloo", "sft", {"a": "volcano", "b": "owl", "c": "comet"})
    assert (v.policy, v.n, v.rule, v.judge) == ("rloo vs sft", 2, 0.75, 0.75)
    assert (v.tokens, v.base_tokens) == (4.0, 8.0)
    assert (v.satisfied, v.base_satisfied) == (1.0, 0.5)
    swapped = walk.head_to_head(rows, "sft", "rloo", {"a": "volcano", "b": "owl"})
    assert (swapped.rule, swapped.judge) == (0.25, 0.25)


def test_the_failure_names_masked_steps_a_flat_reward_and_a_kl_near_zero(walk, tmp_path):
    train = [{"step": i, "loss": 0.1, "reward": 0.5, "kl": 0.0, "completions/clipped_ratio": 1.0} for i in range(6)]
    (tmp_path / "metrics.json").write_text(json.dumps({"train": train}))
    reason = walk.reason_from_logs(tmp_path)
    assert "6 of 6 steps had every completion cut (masked)" in reason
    assert "KL ≈ 0" in reason and "reward flat: 0.500 → 0.500" in reason
    assert walk.reason_from_logs(tmp_path / "missing").startswith("no ")


@pytest.mark.slow
def test_the_quick_walk_runs_every_step_and_fails_loudly_with_the_reason(tmp_path):
    # A tiny random model cannot meet the rule: the walk must say so for every policy, naming what its log shows.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "walk.py"), "--quick", "--out", str(tmp_path / "walk")],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "rule: 95% Wilson interval" in done.stdout and "judge RM: win rate" in done.stdout
    failures = [line for line in done.stderr.splitlines() if line.startswith("FAIL ")]
    assert [line.split(":")[0] for line in failures] == [
        "FAIL sft",
        "FAIL dpo",
        "FAIL kto",
        "FAIL rloo",
        "FAIL rloo vs sft",
    ]
    assert all("its log: " in line and "no training step" not in line for line in failures)
    assert (tmp_path / "walk" / "curves.png").stat().st_size > 0
    assert (tmp_path / "walk" / "walk-train.preference.jsonl").stat().st_size > 0
