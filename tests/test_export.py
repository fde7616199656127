"""Export: pairs from rankings, aggregation, KTO/SFT, file round trips, TRL acceptance."""

from __future__ import annotations

import math

import pytest
from conftest import rank_rows

from store import AnnotationInput, InvalidInputError
from store.types import ExportOptions


def ranked(store, jsonl, rankings_by_annotator: dict[str, list[tuple[int, ...]]], k=4, chat=False, **import_kw):
    rows = rank_rows(len(next(iter(rankings_by_annotator.values()))), k=k)
    if chat:
        for row in rows:
            row["prompt"] = [{"role": "user", "content": row["prompt"]}]
    store.import_file(jsonl(rows), dataset="d", **import_kw)
    records = store.get_records(store.record_ids("d"))
    for annotator, rankings in rankings_by_annotator.items():
        for record, ranks in zip(records, rankings):
            store.save_annotation(AnnotationInput(record.id, annotator, "submitted", ranks))
    return records


def pairs(rows):
    return sorted((r["chosen"], r["rejected"], r["margin"]) for r in rows)


def test_ranking_of_four_gives_six_pairs_with_rank_gap_margins(store, jsonl):
    ranked(store, jsonl, {"ann": [(2, 1, 4, 3)]})
    rows = store.preference_rows("d")
    assert len(rows) == 6
    assert pairs(rows) == sorted(
        [
            ("answer 0.1", "answer 0.0", 1.0),
            ("answer 0.1", "answer 0.3", 2.0),
            ("answer 0.1", "answer 0.2", 3.0),
            ("answer 0.0", "answer 0.3", 1.0),
            ("answer 0.0", "answer 0.2", 2.0),
            ("answer 0.3", "answer 0.2", 1.0),
        ]
    )
    assert {r["prompt"] for r in rows} == {"question 0"} and {r["annotator"] for r in rows} == {"ann"}


def test_ties_give_no_pair(store, jsonl):
    ranked(store, jsonl, {"ann": [(1, 1, 2, 2)]})
    assert pairs(store.preference_rows("d")) == sorted(
        [
            ("answer 0.0", "answer 0.2", 1.0),
            ("answer 0.0", "answer 0.3", 1.0),
            ("answer 0.1", "answer 0.2", 1.0),
            ("answer 0.1", "answer 0.3", 1.0),
        ]
    )


def test_all_keeps_every_annotator_majority_takes_the_most_common_direction(store, jsonl):
    ranked(store, jsonl, {"a": [(1, 2, 3)], "b": [(1, 3, 2)], "c": [(2, 1, 3)]}, k=3)
    assert len(store.preference_rows("d", "all")) == 9
    majority = store.preference_rows("d", "majority")
    # 0>1 (a, b vs c), 0>2 (all three), 1>2 (a, c vs b)
    assert sorted((r["chosen"], r["rejected"]) for r in majority) == sorted(
        [
            ("answer 0.0", "answer 0.1"),
            ("answer 0.0", "answer 0.2"),
            ("answer 0.1", "answer 0.2"),
        ]
    )
    assert {r["annotator"] for r in majority} == {"majority"}


def test_majority_draw_gives_no_pair(store, jsonl):
    ranked(store, jsonl, {"a": [(1, 2)], "b": [(2, 1)]}, k=2)
    assert store.preference_rows("d", "majority") == []


def test_borda_consensus_ranking(store, jsonl):
    # Borda points (candidates ranked strictly below): a: 0→2, 1→1, 2→0 ; b: 1→2, 0→1, 2→0 ; c: 0→2, 2→1, 1→0
    # totals 0:5, 1:3, 2:1 → consensus 0 > 1 > 2, with rank-gap margins.
    ranked(store, jsonl, {"a": [(1, 2, 3)], "b": [(2, 1, 3)], "c": [(1, 3, 2)]}, k=3)
    assert pairs(store.preference_rows("d", "borda")) == sorted(
        [
            ("answer 0.0", "answer 0.1", 1.0),
            ("answer 0.0", "answer 0.2", 2.0),
            ("answer 0.1", "answer 0.2", 1.0),
        ]
    )


def test_chat_prompts_export_conversational_rows(store, jsonl):
    ranked(store, jsonl, {"ann": [(1, 2)]}, k=2)
    store.import_file(
        jsonl([{"id": "c", "prompt": [{"role": "user", "content": "hi"}], "responses": ["a", "b"]}], "c.jsonl"),
        dataset="d",
    )
    chat_record = store.get_records(store.record_ids("d"))[-1]
    store.save_annotation(AnnotationInput(chat_record.id, "ann", "submitted", (2, 1)))
    rows = store.preference_rows("d")
    assert rows[0]["prompt"] == [{"role": "user", "content": "question 0"}]  # text prompt wrapped as a turn
    assert rows[1]["prompt"] == [{"role": "user", "content": "hi"}]
    assert rows[1]["chosen"] == [{"role": "assistant", "content": "b"}]
    assert rows[1]["rejected"] == [{"role": "assistant", "content": "a"}]


def test_kto_labels_best_true_worst_false_and_both_bad_false(store, jsonl):
    store.import_file(jsonl(rank_rows(2, k=2)), dataset="p", task="pair")
    r0, r1 = store.get_records(store.record_ids("p"))
    store.save_annotation(AnnotationInput(r0.id, "ann", "submitted", (2, 1)))
    store.save_annotation(AnnotationInput(r1.id, "ann", "submitted", (1, 1), both_bad=True))
    rows = store.export_rows("p", ExportOptions("kto"))
    assert [(r["completion"], r["label"]) for r in rows] == [
        ("answer 0.0", False),
        ("answer 0.1", True),
        ("answer 1.0", False),
        ("answer 1.1", False),
    ]


def test_sft_takes_the_consensus_best(store, jsonl):
    ranked(store, jsonl, {"a": [(3, 1, 2), (1, 2, 3)], "b": [(2, 1, 3), (1, 2, 3)]}, k=3)
    assert [(r["prompt"], r["completion"]) for r in store.export_rows("d", ExportOptions("sft"))] == [
        ("question 0", "answer 0.1"),
        ("question 1", "answer 1.0"),
    ]


def test_annotations_export_has_every_answer_with_who_and_how(store, jsonl, tmp_path):
    store.import_file(jsonl(rank_rows(2, k=2)), dataset="p", task="pair")
    r0, r1 = store.get_records(store.record_ids("p"))
    store.save_annotation(
        AnnotationInput(r0.id, "ann", "submitted", (2, 1), shown_order=(1, 0), comment="B is right", seconds_spent=9.0)
    )
    store.save_annotation(AnnotationInput(r1.id, "bob", "discarded", discard_reason="off topic"))
    out = tmp_path / "answers.parquet"
    assert store.export("p", out, ExportOptions("annotations")) == 2
    import pyarrow.parquet as pq

    rows = pq.read_table(out).to_pylist()
    first = rows[0]
    assert (first["dataset"], first["external_id"], first["annotator"], first["status"]) == (
        "p",
        "r0",
        "ann",
        "submitted",
    )
    assert (first["chosen"], first["rejected"], first["shown_order"], first["comment"]) == (1, 0, [1, 0], "B is right")
    assert [c["text"] for c in first["candidates"]] == ["answer 0.0", "answer 0.1"]
    assert first["seconds_spent"] == 9.0 and first["created_at"] is not None
    assert (rows[1]["status"], rows[1]["discard_reason"]) == ("discarded", "off topic")


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_files_load_with_hugging_face_datasets(store, jsonl, tmp_path, suffix):
    from datasets import load_dataset

    ranked(store, jsonl, {"ann": [(1, 2, 3), (3, 2, 1)]}, k=3)
    out = tmp_path / f"prefs{suffix}"
    assert store.export("d", out, ExportOptions("preference")) == 6
    builder = "parquet" if suffix == ".parquet" else "json"
    loaded = load_dataset(builder, data_files=str(out), split="train")
    assert loaded.num_rows == 6
    assert set(loaded.column_names) == {
        "prompt",
        "chosen",
        "rejected",
        "record_id",
        "external_id",
        "annotator",
        "margin",
    }
    assert loaded[0]["prompt"] == "question 0"


def test_export_refuses_unknown_suffix_and_leaves_no_partial_file(store, jsonl, tmp_path):
    ranked(store, jsonl, {"ann": [(1, 2)]}, k=2)
    with pytest.raises(InvalidInputError, match=r"unknown output type \.csv"):
        store.export("d", tmp_path / "out.csv", ExportOptions("preference"))
    with pytest.raises(InvalidInputError, match="unknown export format"):
        store.export("d", tmp_path / "out.parquet", ExportOptions("nonsense"))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("out", ".out"))) == []


def test_trl_trainers_accept_the_export_as_it_is(store, jsonl, tmp_path):
    """Exported Parquet goes straight into TRL's DPOTrainer and RewardTrainer (one step each)."""
    from datasets import load_dataset
    from trainers_fixtures import build_tiny_model
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer

    model_dir = build_tiny_model(tmp_path / "tiny")
    ranked(store, jsonl, {"ann": [(1, 2, 3)] * 4}, k=3)
    out = tmp_path / "prefs.parquet"
    store.export("d", out, ExportOptions("preference"))
    data = load_dataset("parquet", data_files=str(out), split="train")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.eos_token
    common = dict(
        output_dir=str(tmp_path / "run"),
        max_steps=1,
        per_device_train_batch_size=2,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        max_length=64,
    )
    dpo = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        args=DPOConfig(**common),
        train_dataset=data,
        processing_class=tokenizer,
    )
    dpo_result = dpo.train()
    assert dpo_result.global_step == 1 and math.isfinite(dpo_result.training_loss)
    reward_model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    reward_model.config.pad_token_id = tokenizer.pad_token_id
    reward = RewardTrainer(
        model=reward_model, args=RewardConfig(**common), train_dataset=data, processing_class=tokenizer
    )
    result = reward.train()
    assert result.global_step == 1 and math.isfinite(result.training_loss)


def test_a_link_planted_at_the_old_temporary_name_is_never_written_through(store, jsonl, tmp_path):
    """Another user who can write the export's folder plants links where the temporary file used to go
    (`.NAME.partial-PID`) and at the target: the export replaces them and leaves their targets alone."""
    import os
    import stat

    ranked(store, jsonl, {"ann": [(1, 2)]}, k=2)
    shared = tmp_path / "shared"
    shared.mkdir()
    private = tmp_path / "private.txt"
    private.write_text("the admin's own file")
    (shared / f".prefs.parquet.partial-{os.getpid()}").symlink_to(private)
    other = tmp_path / "others.parquet"
    other.write_text("someone else's file")
    (shared / "prefs.parquet").symlink_to(other)

    assert store.export("d", shared / "prefs.parquet", ExportOptions("preference")) == 1
    assert private.read_text() == "the admin's own file" and other.read_text() == "someone else's file"
    written = (shared / "prefs.parquet").lstat()
    assert stat.S_ISREG(written.st_mode) and stat.S_IMODE(written.st_mode) == 0o600
    assert written.st_uid == os.geteuid()
    # Only the planted link at the old name is left; no staging folder stays behind.
    assert sorted(p.name for p in shared.iterdir()) == [f".prefs.parquet.partial-{os.getpid()}", "prefs.parquet"]


def test_the_temporary_file_is_private_and_exclusive_and_nothing_stays_behind_on_failure(tmp_path):
    import os
    import stat

    from store.io.export import write_atomically

    seen = {}

    def produce(tmp):
        st = tmp.lstat()
        seen["mode"], seen["regular"], seen["folder"] = stat.S_IMODE(st.st_mode), stat.S_ISREG(st.st_mode), tmp.parent
        seen["folder_mode"] = stat.S_IMODE(tmp.parent.stat().st_mode)
        tmp.write_text("data")
        return 7

    old_umask = os.umask(0)  # even a permissive umask gives a private temporary file
    try:
        assert write_atomically(tmp_path / "out.jsonl", produce) == 7
    finally:
        os.umask(old_umask)
    assert seen["mode"] == 0o600 and seen["regular"] and seen["folder_mode"] == 0o700
    assert seen["folder"].parent == tmp_path and seen["folder"].name.startswith(".out.jsonl.")
    assert (tmp_path / "out.jsonl").read_text() == "data"

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "failed.jsonl", fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_exporting_into_a_folder_others_can_write_warns(capsys, store_path, jsonl, tmp_path):
    from rlhf_tui.cli import main
    from store.connect import open_store

    with open_store(store_path) as s:
        ranked(s, jsonl, {"ann": [(1, 2)]}, k=2)
    shared = tmp_path / "drop"
    shared.mkdir()
    shared.chmod(0o1777)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    for folder, warned in ((shared, True), (mine, False)):
        assert main(["export", "-d", "d", "-o", str(folder / "p.parquet"), "--store", str(store_path)]) in (0, None)
        err = capsys.readouterr().err
        assert ("can be written by others (mode 1777)" in err) is warned, err
        assert (folder / "p.parquet").exists()
