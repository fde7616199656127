"""Issue 13: trainers a practitioner trusts — continuing adapters, honest counts, one prompt format,
bounded prompt groups, options that act, auto precision, the estimator, logging; and issue 12's plain
training log. Tiny model, one or two steps, the 4-bit CPU path where it matters."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from trainers_fixtures import *  # noqa: F403
from trainers_fixtures import preference_rows, write_jsonl

from rlhf_tui.cli import main as cli_main

FAST = ["--max-length", "64", "--batch-size", "2", "--grad-accum", "1", "--logging-steps", "1"]
QLORA = ["--4bit", "--bf16"]  # the 4-bit CPU path, whatever this CPU's auto choice would be


def _cfg(kind, **over):
    from trainers.config import load_config

    base = dict(max_length=64, batch_size=2, grad_accum=1, logging_steps=1, save_steps=100)
    return load_config(kind, None, {**base, **over})


def _train(kind, tmp, model, data, name, *extra):
    out = tmp / name
    args = ["train", kind, "--data", str(data), "--model", str(model), "--output", str(out), *FAST, *extra]
    return cli_main(args), out


# ---- 1. continuing from an adapter ---------------------------------------------------------------


def test_dpo_continues_a_dpo_adapter_on_the_4bit_path(tiny_model_dir, pref_jsonl, tmp_path, capsys):
    from safetensors.torch import load_file

    common = [*QLORA, "--max-steps", "1", "--eval-split", "0", "--lora-dropout", "0", "--warmup", "0"]
    code, first = _train("dpo", tmp_path, tiny_model_dir, pref_jsonl, "round1", *common, "--learning-rate", "0.05")
    assert code == 0
    capsys.readouterr()
    code, second = _train("dpo", tmp_path, first, pref_jsonl, "round2", *common, "--learning-rate", "1e-7")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "continuing adapter" in captured.err and "Traceback" not in captured.err
    before, after = load_file(first / "adapter_model.safetensors"), load_file(second / "adapter_model.safetensors")
    assert before.keys() == after.keys()  # one adapter, the same layers (no base_layer/default targets)
    b_keys = [k for k in before if "lora_B" in k]
    assert b_keys and any(before[k].abs().max() > 1e-3 for k in b_keys)  # round 1 moved away from zero
    # round 2 started from round 1's weights (a fresh adapter would start B at zero) and moved a little
    assert all((after[k].float() - before[k].float()).abs().max() < 1e-3 for k in b_keys)
    assert not (second / "ref").exists()  # TRL's frozen reference copy is not saved as an output
    config = json.loads((second / "adapter_config.json").read_text())
    assert Path(config["base_model_name_or_path"]) == Path(tiny_model_dir)
    # the reference is the policy the round started from: no reward margin before the first update
    first_log = json.loads((second / "metrics.json").read_text())["train"][0]
    assert first_log["rewards/margins"] == pytest.approx(0.0, abs=1e-4)


def test_reward_continues_a_reward_adapter_and_dpo_refuses_one(tiny_model_dir, pref_jsonl, tmp_path, capsys):
    common = [*QLORA, "--max-steps", "1", "--eval-split", "0"]
    code, rm = _train("reward", tmp_path, tiny_model_dir, pref_jsonl, "rm", *common)
    assert code == 0
    code, rm2 = _train("reward", tmp_path, rm, pref_jsonl, "rm2", *common)
    assert code == 0, capsys.readouterr().err
    from safetensors import safe_open

    with safe_open(rm2 / "adapter_model.safetensors", "pt") as f:
        assert any(k.endswith("score.weight") for k in f.keys())  # noqa: SIM118 (safe_open is not iterable)
    capsys.readouterr()
    code, _ = _train("dpo", tmp_path, rm, pref_jsonl, "dpo", *common)
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "reward-model adapter" in err and "start from the base model or a policy" in err


def test_lora_targets_of_a_peft_model_are_its_layers_not_peft_internals(tiny_model_dir):
    from peft import LoraConfig, get_peft_model

    from trainers.config import ModelArgs
    from trainers.modeling import load_model, lora_target_modules

    model = load_model(ModelArgs(model=str(tiny_model_dir), load_in_4bit=True), "dpo", True)
    plain_targets = lora_target_modules(model, "all-linear")
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=plain_targets, task_type="CAUSAL_LM"))
    assert lora_target_modules(peft_model, "all-linear") == plain_targets
    assert "base_layer" not in plain_targets and "default" not in plain_targets


# ---- 2. counts after dropping; prompts cut from the left -------------------------------------------


def _long_rows(tmp_path: Path) -> Path:
    rows = preference_rows(n_prompts=10, pairs_per_prompt=1)
    for r in rows[:3]:  # a long prompt: cut from the left, kept
        r["prompt"] = "please explain " + "the history of water and air pressure " * 12 + "briefly"
    for r in rows[3:5]:  # an answer that alone fills --max-length: dropped and counted
        r["chosen"] = "the answer about water is " + "very much so " * 40
    return write_jsonl(tmp_path / "long.jsonl", rows)


def test_summary_counts_the_pairs_used_and_reports_those_dropped(tiny_model_dir, tmp_path, capsys):
    data = _long_rows(tmp_path)
    code, out = _train("reward", tmp_path, tiny_model_dir, data, "rm", *QLORA, "--max-steps", "1", "--eval-split", "0")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["train_pairs"] == 8 and summary["train_pairs_dropped"] == 2 and summary["prompts_cut"] == 3
    assert "2 of 10 pairs dropped" in captured.err and "raise --max-length" in captured.err
    assert re.search(r"train pairs used\W+8\b", captured.out)
    assert re.search(r"train pairs dropped.*--max-length\W+2\b", captured.out)


def test_dpo_keeps_every_pair_cutting_prompts_from_the_left(tiny_model_dir, tmp_path):
    from trainers.generation import prompt_for_generation
    from trainers.run import run_training

    data = _long_rows(tmp_path)
    result = run_training(
        _cfg("dpo", data=str(data), model=str(tiny_model_dir), output=str(tmp_path / "d"), max_steps=1, eval_split=0.0),
        progress=False,
    )
    kept = result.trainer.train_dataset
    summary = result.metrics["summary"]
    # DPO drops nothing: long prompts lose their start, answers too long for any prompt lose their end
    assert summary["train_pairs"] == len(kept) == 10 and summary["train_pairs_dropped"] == 0
    assert summary["prompts_cut"] == 3 and summary["answers_cut"] == 2
    tok = result.trainer.processing_class
    long_prompt = preference_rows(n_prompts=1)[0]["prompt"]  # any prompt ends with the same assistant opening
    ending = tok(prompt_for_generation(tok, long_prompt), add_special_tokens=False)["input_ids"][-3:]
    for row in kept:
        assert len(row["prompt_ids"]) + max(len(row["chosen_ids"]), len(row["rejected_ids"])) <= 64
        assert row["prompt_ids"][-3:] == ending  # the end of the conversation stays


def test_scoring_keeps_the_answer_and_cuts_the_prompt_from_the_left(tiny_model_dir):
    import torch

    from trainers.modeling import load_tokenizer, resolve_model_source
    from trainers.scoring import score_answers

    tok = load_tokenizer(resolve_model_source(str(tiny_model_dir)))
    seen: list[list[int]] = []

    class Recorder:
        device = torch.device("cpu")

        def __call__(self, input_ids, attention_mask):
            seen.extend(row[mask.bool()].tolist() for row, mask in zip(input_ids, attention_mask))
            return type("Out", (), {"logits": torch.zeros(len(input_ids), 1)})()

    answer = "the answer about water is short"
    score_answers(Recorder(), tok, [("explain " + "water " * 100, answer)], max_length=48)
    answer_ids = tok(answer, add_special_tokens=False)["input_ids"]
    text = tok.decode(seen[0])
    assert len(seen[0]) <= 48 and answer in text and tok.decode(answer_ids) in text


# ---- 3. one prompt format --------------------------------------------------------------------------


def test_a_text_prompt_is_tokenised_in_training_as_generation_presents_it(tiny_model_dir, pref_jsonl, tmp_path):
    from trainers.generation import prompt_for_generation
    from trainers.run import run_training
    from trainers.scoring import reward_input_ids

    result = run_training(
        _cfg("dpo", data=str(pref_jsonl), model=str(tiny_model_dir), output=str(tmp_path / "d"), max_steps=1),
        progress=False,
    )
    tok = result.trainer.processing_class
    rows = preference_rows()
    first = result.trainer.train_dataset[0]
    prompts = {r["prompt"] for r in rows}
    expected = {tuple(tok(prompt_for_generation(tok, p), add_special_tokens=False)["input_ids"]): p for p in prompts}
    assert tuple(first["prompt_ids"]) in expected  # the chat template, exactly as generate sends it
    prompt = expected[tuple(first["prompt_ids"])]
    row = next(r for r in rows if r["prompt"] == prompt)
    # the reward model reads the same format when it scores
    assert reward_input_ids(tok, prompt, row["chosen"]) == list(first["prompt_ids"]) + list(first["chosen_ids"])


@pytest.fixture()
def no_template_model(tiny_model_dir, tmp_path) -> Path:
    folder = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    for extra in folder.glob("chat_template.*"):
        extra.unlink()
    return folder


def test_chat_data_on_a_model_without_template_is_one_line_naming_chat_template(
    no_template_model, chat_pref_jsonl, tmp_path, capsys
):
    code, _ = _train("dpo", tmp_path, no_template_model, chat_pref_jsonl, "d", "--max-steps", "1")
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "no chat template" in err and "--chat-template FILE" in err

    from trainers_fixtures import CHAT_TEMPLATE

    template = tmp_path / "template.jinja"
    template.write_text(CHAT_TEMPLATE)
    code, out = _train(
        "dpo", tmp_path, no_template_model, chat_pref_jsonl, "d2", "--max-steps", "1", "--chat-template", str(template)
    )
    assert code == 0, capsys.readouterr().err
    saved = (
        json.loads((out / "tokenizer_config.json").read_text()).get("chat_template")
        or (out / "chat_template.jinja").read_text()
    )
    assert saved == CHAT_TEMPLATE  # generate and score from OUTPUT use it too


# ---- 4. prompt groups bounded by the batch ---------------------------------------------------------


def test_a_prompt_group_larger_than_the_batch_is_split_into_consecutive_batches():
    from trainers.batching import group_batches

    group_ids = [0] * 72 + [1] * 3 + [2] * 2  # a 9-answer ranking by two annotators, and two small prompts
    batches = group_batches(group_ids, batch_size=4, seed=3)
    assert max(len(b) for b in batches) <= 4
    assert sorted(i for b in batches for i in b) == list(range(len(group_ids)))
    where = [n for n, b in enumerate(batches) if any(group_ids[i] == 0 for i in b)]
    assert where == list(range(where[0], where[0] + len(where)))  # the big group's batches are consecutive


# ---- 5. options that do what they say --------------------------------------------------------------


def test_lora_dropout_is_active_and_the_base_dropout_off(tiny_model_dir, pref_jsonl, tmp_path):
    import torch

    from trainers.modeling import load_model, load_tokenizer, resolve_model_source
    from trainers.run import build_trainer, prepare_data

    cfg = _cfg("reward", data=str(pref_jsonl), model=str(tiny_model_dir), output=str(tmp_path / "o"), lora_dropout=0.2)
    tok = load_tokenizer(resolve_model_source(cfg.model.model))
    data = prepare_data(cfg, tok)
    trainer = build_trainer(cfg, load_model(cfg.model, "reward", True, quantize=False), tok, data.train, data.eval)
    dropouts = {n: m.p for n, m in trainer.model.named_modules() if isinstance(m, torch.nn.Dropout)}
    lora = [p for n, p in dropouts.items() if "lora_dropout" in n]
    assert lora and all(p == pytest.approx(0.2) for p in lora)
    assert all(p == 0 for n, p in dropouts.items() if "lora_dropout" not in n)


def test_the_seed_decides_the_reward_head_on_the_4bit_path(tiny_model_dir):
    from transformers import set_seed

    from trainers.config import ModelArgs
    from trainers.modeling import load_model

    heads = []
    for seed in (1, 1, 2):
        set_seed(seed)
        heads.append(load_model(ModelArgs(model=str(tiny_model_dir), load_in_4bit=True), "reward", True).score.weight)
    assert heads[0].equal(heads[1]) and not heads[0].equal(heads[2])


def test_attn_implementation_reaches_the_model_and_bad_names_are_one_line(tiny_model_dir):
    from trainers.config import ModelArgs
    from trainers.errors import ConfigError
    from trainers.modeling import load_model

    model = load_model(ModelArgs(model=str(tiny_model_dir), attn_implementation="eager"), "dpo", False, quantize=False)
    assert model.config._attn_implementation == "eager"
    with pytest.raises(ConfigError, match="--attn-implementation must be"):
        _cfg("dpo", model="m", data="d", output="o", attn_implementation="fast")


# ---- 6. --bf16 / --4bit auto -----------------------------------------------------------------------


def test_auto_precision_follows_the_device():
    from trainers.precision import Device, resolve_precision

    plain_cpu = resolve_precision(None, None, Device(cuda=False, flags=frozenset({"avx2", "avx512f"})))
    assert (plain_cpu.bf16, plain_cpu.load_in_4bit) == (False, False) and "no AMX/AVX-512 BF16" in plain_cpu.reason
    amx = resolve_precision(None, None, Device(cuda=False, flags=frozenset({"amx_bf16"})))
    assert (amx.bf16, amx.load_in_4bit) == (True, True) and "AMX-BF16" in amx.reason
    forced = resolve_precision(None, True, Device(cuda=False))
    assert (forced.bf16, forced.load_in_4bit) == (True, True)  # 4-bit asked for: bf16 follows
    a100 = resolve_precision(None, None, Device(cuda=True, cuda_bf16=True, name="A100"))
    assert (a100.bf16, a100.load_in_4bit) == (True, True)
    t4 = resolve_precision(None, None, Device(cuda=True, cuda_bf16=False, name="T4"))
    assert t4.load_in_4bit and "emulates bf16" in t4.reason
    cfg = _cfg("reward", model="m", data="d", output="o")
    assert cfg.training.bf16 is None and cfg.model.load_in_4bit is None  # auto until the run resolves it


def test_a_cpu_without_bf16_trains_float32_lora_and_says_why(tiny_model_dir, pref_jsonl, tmp_path, capsys, monkeypatch):
    import trainers.precision as precision

    cpu = precision.Device(cuda=False, flags=frozenset({"sse4_2", "avx2"}))  # injected: never the host's flags
    monkeypatch.setattr(precision, "detect_device", lambda: cpu)
    code, out = _train("reward", tmp_path, tiny_model_dir, pref_jsonl, "rm", "--max-steps", "1", "--eval-split", "0")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "precision: 16-bit base (plain LoRA), float32 compute (auto: this CPU has no AMX/AVX-512 BF16" in err
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["load_in_4bit"] is False and summary["bf16"] is False
    assert "load_in_4bit: false" in (out / "train_config.yaml").read_text()  # the resolved choice is recorded


# ---- 7. the estimator ------------------------------------------------------------------------------


def test_estimate_counts_no_lm_head_for_a_reward_model():
    from trainers.memory import ArchShape, estimate

    shape = ArchShape.from_config(
        dict(
            vocab_size=128256,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
        )
    )
    common = dict(model="m", data="d", output="o", batch_size=1, max_length=1024)
    reward, dpo = _cfg("reward", **common), _cfg("dpo", **common)
    head = shape.vocab * shape.hidden * 2
    difference = estimate(dpo, shape)["weights"] - estimate(reward, shape)["weights"]
    assert difference == pytest.approx(head - shape.hidden * 2)  # the LM head out, the one-output score head in


# ---- logging, reporting, evaluation ----------------------------------------------------------------


def test_output_that_is_not_a_terminal_gets_a_plain_line_per_logging_step(tiny_model_dir, pref_jsonl, tmp_path, capsys):
    code, _ = _train("reward", tmp_path, tiny_model_dir, pref_jsonl, "rm", *QLORA, "--max-steps", "2")
    err = capsys.readouterr().err
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert len(lines) == 2, err
    # the training figures are TRL's means over the batches since the last line, and say so
    pattern = (
        r"^step 2/2  loss \d+\.\d{4}  batch accuracy \d\.\d{3}  batch margin -?\d+\.\d{3}  \d+\.\d{2} pairs/s  "
        r"ETA 0:00:00$"
    )
    assert re.match(pattern, lines[1]), lines[1]
    assert "\x1b[" not in err  # no bar, no colour codes in a log file


def test_names_and_paths_in_the_summary_are_printed_literally(tiny_model_dir, pref_jsonl, tmp_path, capsys):
    code, _ = _train("reward", tmp_path, tiny_model_dir, pref_jsonl, "o[bold]x\x1b]", *QLORA, "--max-steps", "1")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "o[bold]x␛]" in captured.out and "\x1b]" not in captured.out


def test_report_to_checks_its_package_and_writes_into_the_output(tmp_path, monkeypatch):
    import trainers.run as run
    from trainers.errors import ConfigError, TrainerError

    with pytest.raises(ConfigError, match="--report-to must be"):
        _cfg("dpo", model="m", data="d", output="o", report_to="comet")
    cfg = _cfg("dpo", model="m", data="d", output=str(tmp_path), report_to="tensorboard")
    monkeypatch.setattr(run, "find_spec", lambda name: None)
    with pytest.raises(TrainerError, match="pip install tensorboard"):
        run.trl_arguments(cfg, has_eval=False)
    monkeypatch.setattr(run, "find_spec", lambda name: object())
    arguments = run.trl_arguments(cfg, has_eval=False)
    assert arguments["report_to"] == ["tensorboard"] and arguments["output_dir"] == str(tmp_path)
    assert run.trl_arguments(_cfg("dpo", model="m", data="d", output="o"), False)["report_to"] == "none"


def test_eval_steps_keep_the_best_checkpoint_and_accuracy_by_length(tiny_model_dir, pref_jsonl, tmp_path, capsys):
    from trainers.errors import ConfigError

    with pytest.raises(ConfigError, match="multiple of --eval-steps"):
        _cfg("reward", model="m", data="d", output="o", eval_steps=3, save_steps=4)
    data = write_jsonl(tmp_path / "p.jsonl", preference_rows(n_prompts=20, pairs_per_prompt=2))
    extra = [*QLORA, "--max-steps", "4", "--eval-steps", "2", "--save-steps", "2", "--keep-best", "accuracy"]
    code, out = _train("reward", tmp_path, tiny_model_dir, data, "rm", *extra, "--eval-split", "0.3")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert Path(summary["best_checkpoint"]).name in {"checkpoint-2", "checkpoint-4"}
    assert summary["best_metric"] is not None
    assert {summary[f"eval_pairs_{b}"] for b in ("short", "medium", "long")} <= {4}
    assert all(0 <= summary[f"eval_accuracy_{b}"] <= 1 for b in ("short", "medium", "long"))
    assert "short answers" in captured.out and "long answers" in captured.out
    assert re.search(r"^eval at step 2  loss ", captured.err, re.MULTILINE)
    metrics = json.loads((out / "metrics.json").read_text())
    assert all("eval_short_loss" not in row for row in metrics["eval"])  # buckets never pollute the curves
