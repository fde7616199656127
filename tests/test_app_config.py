"""The config file: location, settings, keymap ids, one-line errors."""

from __future__ import annotations

import pytest

from rlhf_tui.app.config import AppConfig, ConfigError, config_help, config_path, load_config


def test_location_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RLHF_TUI_CONFIG", str(tmp_path / "c.toml"))
    assert config_path() == tmp_path / "c.toml"
    monkeypatch.delenv("RLHF_TUI_CONFIG")
    assert str(config_path()).endswith(".config/rlhf-tui/config.toml")


def test_missing_file_gives_defaults_and_env_overrides(tmp_path):
    config = load_config(tmp_path / "none.toml", environ={"RLHF_TUI_PREFETCH": "9"})
    assert config == AppConfig(prefetch=9)
    assert set(config_help()) == {
        "keymap",
        "prefetch",
        "draft_delay_seconds",
        "preview_chars",
        "min_card_width",
        "prompt_height_percent",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[keymap]\n"rank.nope" = "x"', "unknown binding id 'rank.nope'"),
        ("prefetch = 'many'", "prefetch must be an integer"),
        ("colour = 1", "unknown setting 'colour'"),
        ("prefetch = ", "cannot read config file"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path, environ={})
    assert "\n" not in str(caught.value)


def test_review_keys_are_remapped_from_the_same_config_file(tmp_path):
    from rlhf_tui.app.config import load_config

    path = tmp_path / "config.toml"
    path.write_text('[keymap]\n"review.next" = "j"\n"annotate.skip" = "n"\n')
    assert load_config(path, environ={}).keymap == {"review.next": "j", "annotate.skip": "n"}
