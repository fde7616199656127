"""The real SmolLM2-135M GGUF (from `make demo-model`) converts once into a trainable Hugging Face folder.

Slow: excluded from `make test`; run with `make test-slow`. Skipped when the file is absent
(set RLHF_TUI_DEMO_GGUF to point elsewhere)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GGUF = Path(os.environ.get("RLHF_TUI_DEMO_GGUF", REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))


@pytest.mark.slow
@pytest.mark.skipif(not GGUF.is_file(), reason=f"{GGUF} not present (run `make demo-model`)")
def test_real_gguf_converts_once_and_loads_for_training_and_generation(tmp_path, monkeypatch):
    pytest.importorskip("gguf")
    from trainers.config import ModelArgs
    from trainers.generation import GenerationSettings, sample_answers
    from trainers.modeling import load_for_inference, load_model, resolve_model_source

    monkeypatch.setenv("RLHF_TUI_MODEL_CACHE", str(tmp_path / "cache"))
    source = resolve_model_source(str(GGUF))
    folder = Path(source.path)
    assert folder.parent == tmp_path / "cache" and source.adapter is None
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert resolve_model_source(str(GGUF)).path == str(folder)  # cached: not converted again
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp

    # the training path: a 4-bit NF4 base (refused while the GGUF quantisation entry was in the config)
    model = load_model(ModelArgs(model=str(GGUF)), "reward", bf16=True)
    assert model.config.num_labels == 1
    del model

    policy, tokenizer = load_for_inference(str(GGUF), "policy")
    assert tokenizer.chat_template
    answers = sample_answers(
        policy, tokenizer, ["What is the capital of France?"], 1, GenerationSettings(max_new_tokens=12, temperature=0)
    )
    assert "Paris" in answers[0][0]
