"""The Textual annotation app: rank N answers or pick chosen/rejected by keyboard.

`run_annotation_app(store, dataset, annotator)` is the entry point the CLI uses."""

from __future__ import annotations

from store import PreferenceStore

from .config import AppConfig, ConfigError, config_path, load_config


def run_annotation_app(
    store: PreferenceStore, dataset: str | None, annotator: str, config: AppConfig | None = None
) -> None:
    """Run the app on `store` until the annotator quits (blocks)."""
    from .app import AnnotationApp

    AnnotationApp(store, annotator, dataset, config or load_config()).run()


__all__ = ["AppConfig", "ConfigError", "config_path", "load_config", "run_annotation_app"]
