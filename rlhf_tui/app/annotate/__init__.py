"""The annotate feature: the screen every task shares (`screen`), one mode per task (`rank`, `pair`,
`rate`, `thumbs`), the written-answer editor (`written_answer`), and the controllers behind them — the
session and the records fetched ahead (`session`, `record_feed`), the answer being built (`answering`,
`ranking`, `rating_sheet`) and the progress on the status line (`progress_tracker`).

Nothing is imported here: the widgets and the review feature use `ranking` and `rating_sheet` without
loading the screens (which use the widgets)."""
