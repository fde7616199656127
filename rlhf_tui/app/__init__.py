"""The Textual annotation app: rank N answers, pick chosen/rejected, rate answers on axes or
give each a thumb, by keyboard.

`run_annotation_app(store, dataset, annotator)` is the entry point the CLI uses."""

from __future__ import annotations

from rlhf_tui.app.config import AppConfig, ConfigError, config_path, load_config
from store import PreferenceStore


def run_annotation_app(
    store: PreferenceStore, dataset: str | None, annotator: str, config: AppConfig | None = None
) -> int:
    """Run the app on `store` until the annotator quits (blocks); the exit status (non-zero
    when the app stopped on an error, whose one line Textual prints on exit)."""
    from rlhf_tui.app.app import AnnotationApp

    app = AnnotationApp(store, annotator, dataset, config or load_config())
    app.run()
    return app.return_code or 0


__all__ = ["AppConfig", "ConfigError", "config_path", "load_config", "run_annotation_app"]
