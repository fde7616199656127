"""generate, score and eval on the tiny fixture model and adapters trained on it for one step (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trainers_fixtures import *  # noqa: F403
from trainers_fixtures import preference_rows, write_jsonl

from rlhf_tui.cli import main as cli_main
from store import AnnotationInput
from store.connect import open_store

GEN = ["--max-new-tokens", "6", "--batch-size", "2"]


def _train(kind: str, model: Path, data: Path, out: Path) -> Path:
    from trainers.config import load_config
    from trainers.run import run_training

    cfg = load_config(
        kind,
        None,
        dict(
            data=str(data),
            model=str(model),
            output=str(out),
            max_length=64,
            batch_size=2,
            grad_accum=1,
            logging_steps=1,
            save_steps=100,
            max_steps=1,
            eval_split=0.0,
        ),
    )
    run_training(cfg, progress=False)
    return out


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    """A reward-model adapter and a DPO adapter over the tiny model, one training step each."""
    root = tmp_path_factory.mktemp("adapters")
    data = write_jsonl(root / "prefs.jsonl", preference_rows(n_prompts=4, pairs_per_prompt=1, chat=True))
    return {
        "reward": _train("reward", tiny_model_dir, data, root / "rm"),
        "dpo": _train("dpo", tiny_model_dir, data, root / "dpo"),
    }


def _source_dataset(store_path: Path, tmp_path: Path) -> None:
    """Three records, one with a chat prompt; two ranked by an annotator."""
    rows = [
        {
            "id": "a",
            "prompt": "please explain water briefly",
            "responses": [
                {"text": "the water boils", "source": "x"},
                {"text": "error error", "source": "y"},
                {"text": "the air pressure drops", "source": "z"},
            ],
        },
        {
            "id": "b",
            "prompt": [{"role": "user", "content": "please explain python lists"}],
            "responses": [{"text": "sort reverse list", "source": "x"}, {"text": "error data", "source": "y"}],
        },
        {
            "id": "c",
            "prompt": "the quick brown fox",
            "responses": [{"text": "jumps", "source": "x"}, {"text": "lazy dog", "source": "y"}],
        },
    ]
    path = write_jsonl(tmp_path / "src.jsonl", rows)
    with open_store(store_path) as s:
        s.import_file(path, dataset="src", fmt="native", guidelines="# Be kind\n")
        ids = s.record_ids("src")
        s.save_annotation(AnnotationInput(record_id=ids[0], annotator="ann", status="submitted", ranks=(1, 3, 2)))
        s.save_annotation(AnnotationInput(record_id=ids[1], annotator="ann", status="submitted", ranks=(1, 2)))


def test_generate_stores_candidates_with_their_source_idempotently(
    tiny_model_dir, adapters, store_path, tmp_path, capsys
):
    _source_dataset(store_path, tmp_path)
    args = [
        "generate",
        "--model",
        str(tiny_model_dir),
        "--model",
        str(adapters["dpo"]),
        "--dataset",
        "src",
        "--n",
        "3",
        "--into",
        "round2",
        "--store",
        str(store_path),
        *GEN,
    ]
    assert cli_main(args) == 0
    assert "3 new records in 'round2'" in capsys.readouterr().out
    with open_store(store_path) as s:
        dataset = s.get_dataset("round2")
        records = s.get_records(s.record_ids("round2"))
    assert dataset.task == "rank" and dataset.guidelines == "# Be kind\n"
    assert sorted(r.external_id for r in records) == ["a@round2", "b@round2", "c@round2"]
    for record in records:
        sources = [c.source for c in record.candidates]
        assert sources == [str(tiny_model_dir)] * 2 + [str(adapters["dpo"])]
        assert all(c.text for c in record.candidates)
        assert record.metadata["round"] == "round2" and record.metadata["source_dataset"] == "src"
    chat = next(r for r in records if r.external_id == "b@round2")
    assert chat.is_chat and not isinstance(chat.prompt, str)
    assert chat.prompt[0].content == "please explain python lists"
    assert cli_main(args) == 0  # the same round again adds nothing
    assert "0 new records" in capsys.readouterr().out


def test_generate_from_a_prompts_file_as_pairs(tiny_model_dir, store_path, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("please explain water\n\nthe quick brown fox\n")
    assert (
        cli_main(
            [
                "generate",
                "--model",
                str(tiny_model_dir),
                "--prompts",
                str(prompts),
                "--n",
                "2",
                "--into",
                "fresh",
                "--store",
                str(store_path),
                "--temperature",
                "0",
                *GEN,
            ]
        )
        == 0
    )
    with open_store(store_path) as s:
        assert s.get_dataset("fresh").task == "pair"
        records = s.get_records(s.record_ids("fresh"))
    assert [r.prompt for r in records] == ["please explain water", "the quick brown fox"]
    # greedy decoding with n > 1 uses beams: two different answers, not one twice
    assert all(len({c.text for c in r.candidates}) == 2 for r in records), [
        [c.text for c in r.candidates] for r in records
    ]


def test_generate_refuses_bad_counts_in_one_line(tiny_model_dir, store_path, capsys):
    assert (
        cli_main(
            [
                "generate",
                "--model",
                str(tiny_model_dir),
                "--dataset",
                "x",
                "--n",
                "12",
                "--into",
                "y",
                "--store",
                str(store_path),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("error: --n must be between 2 and 9") and "Traceback" not in err


def test_score_stores_every_candidate_and_reports_agreement(adapters, store_path, tmp_path, capsys):
    _source_dataset(store_path, tmp_path)
    assert (
        cli_main(
            [
                "score",
                "--reward-model",
                str(adapters["reward"]),
                "--dataset",
                "src",
                "--scorer",
                "rm1",
                "--store",
                str(store_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    with open_store(store_path) as s:
        stored = s.scores("src", "rm1")
        n_candidates = sum(len(r.candidates) for r in s.get_records(s.record_ids("src")))
    assert len(stored) == n_candidates == 7
    assert len({round(v, 9) for *_, v in stored}) > 1
    assert "ranked pairs" in out and "agreement with annotators" in out
    import re

    assert re.search(r"ranked pairs\W+4\b", out)  # (1,3,2) gives 3 pairs, (1,2) one


def test_score_agrees_with_the_trained_model(adapters, tiny_model_dir):
    """Scores through the general loader (adapter merged into a float32 base) match the peft model's."""
    from trainers.modeling import load_for_inference, load_trained
    from trainers.scoring import score_answers

    pairs = [
        ([{"role": "user", "content": "please explain water"}], "the water boils"),
        ("the quick brown fox", "jumps over"),
    ]
    merged, tok = load_for_inference(str(adapters["reward"]), "reward", load_in_4bit=False)
    peft_model, peft_tok = load_trained(
        adapters["reward"], str(tiny_model_dir), "reward", load_in_4bit=False, bf16=False
    )
    assert score_answers(merged, tok, pairs, batch_size=2) == pytest.approx(
        score_answers(peft_model, peft_tok, pairs, batch_size=1), abs=1e-4
    )


def test_eval_compares_several_policies_in_one_table_with_lengths(tiny_model_dir, adapters, tmp_path, capsys):
    import pyarrow.parquet as pq

    from trainers.evaluation import similar_length
    from trainers.shares import wilson_interval

    prompts = write_jsonl(
        tmp_path / "p.jsonl", [{"id": f"p{i}", "prompt": f"please explain topic {i}"} for i in range(5)]
    )
    out = tmp_path / "eval.parquet"
    policies = [str(adapters["dpo"]), str(tiny_model_dir)]  # the base against itself: every pair a tie
    args = ["eval", "--policy", policies[0], "--policy", policies[1], "--reference", str(tiny_model_dir)]
    args += ["--reward-model", str(adapters["reward"]), "--prompts", str(prompts), "--out", str(out)]
    assert cli_main([*args, "--temperature", "0", *GEN]) == 0
    text = capsys.readouterr().out
    rows = pq.read_table(out).to_pylist()
    assert [r["policy"] for r in rows] == [policies[0]] * 5 + [policies[1]] * 5
    assert {"prompt", "policy_answer", "reference_answer", "policy_score", "winner", "policy_tokens"} <= set(rows[0])
    itself = rows[5:]
    assert all(r["winner"] == "tie" and r["policy_tokens"] == r["reference_tokens"] for r in itself)
    for policy in policies:
        mine = [r for r in rows if r["policy"] == policy]
        points = sum(r["winner"] == "policy" for r in mine) + 0.5 * sum(r["winner"] == "tie" for r in mine)
        low, high = wilson_interval(points, len(mine))
        mean_tokens = sum(r["policy_tokens"] for r in mine) / len(mine)
        similar = [r for r in mine if similar_length(r["policy_tokens"], r["reference_tokens"])]
        assert f"{points / len(mine):.3f}" in text and f"{low:.3f} – {high:.3f}" in text
        assert f"{mean_tokens:.1f}" in text and f"[{len(similar)}]" in text
    assert "#2 = " + policies[1] in text.replace("\n", "")
    similar_line = next(line for line in text.splitlines() if "win rate among them" in line)
    assert similar_line.split("│")[-2].strip() == "0.500"  # the base against itself: similar lengths, all ties


def test_similar_length_win_rate_shows_a_policy_that_wins_by_writing_more():
    from trainers.evaluation import summarise
    from trainers.generation import PromptItem

    items = [PromptItem(id=str(i), prompt="p", metadata={}) for i in range(6)]
    # wins the 4 prompts where it wrote twice as much, loses the 2 of equal length
    result = summarise(
        items,
        ["a"] * 6,
        ["b"] * 6,
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        policy_tokens=[20, 20, 20, 20, 10, 10],
        reference_tokens=[10, 10, 10, 10, 11, 10],
    )
    assert result.win_rate == pytest.approx(4 / 6)
    assert result.policy_tokens == pytest.approx(100 / 6) and result.reference_tokens == pytest.approx(61 / 6)
    assert result.similar_pairs == 2 and result.similar_win_rate == 0.0
    assert result.similar_low == 0.0 and result.similar_high < 0.7


def test_reward_adapter_cannot_generate(adapters, store_path, capsys):
    assert (
        cli_main(
            [
                "generate",
                "--model",
                str(adapters["reward"]),
                "--prompts",
                "nonexistent.txt",
                "--n",
                "2",
                "--into",
                "z",
                "--store",
                str(store_path),
            ]
        )
        == 1
    )
    assert "prompts file not found" in capsys.readouterr().err
    from trainers.errors import TrainerError
    from trainers.modeling import load_for_inference

    with pytest.raises(TrainerError, match="reward-model adapter"):
        load_for_inference(str(adapters["reward"]), "policy")


def test_adapter_folder_resolves_to_its_base(adapters, tiny_model_dir, tmp_path):
    import shutil

    from trainers.modeling import resolve_model_source

    source = resolve_model_source(str(adapters["dpo"]))
    assert Path(source.path) == Path(tiny_model_dir) and source.adapter == str(adapters["dpo"])
    assert source.adapter_task == "CAUSAL_LM" and source.tokenizer_path == str(adapters["dpo"])
    # A base path that no longer exists: fall back to the --model the training run recorded
    moved = tmp_path / "moved"
    shutil.copytree(adapters["dpo"], moved)
    config = json.loads((moved / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tmp_path / "gone")
    (moved / "adapter_config.json").write_text(json.dumps(config))
    assert Path(resolve_model_source(str(moved)).path) == Path(tiny_model_dir)


def test_names_in_score_and_eval_output_are_printed_literally(adapters, tiny_model_dir, store_path, tmp_path, capsys):
    _source_dataset(store_path, tmp_path)
    hostile = "[red]rm\x1b]8;;x\x07"
    args = ["score", "-r", str(adapters["reward"]), "-d", "src", "--scorer", hostile, "--store", str(store_path)]
    assert cli_main(args) == 0
    out = capsys.readouterr().out
    assert "[red]rm␛]8;;x␇" in out and "\x1b" not in out
    prompts = write_jsonl(tmp_path / "p.jsonl", [{"id": "p0", "prompt": "please explain water"}])
    target = tmp_path / "o[bold]ut.parquet"
    args = ["eval", "--policy", str(adapters["dpo"]), "--reference", str(tiny_model_dir)]
    args += ["-r", str(adapters["reward"]), "--prompts", str(prompts), "--out", str(target), *GEN]
    assert cli_main(args) == 0
    assert "o[bold]ut.parquet" in capsys.readouterr().out
