"""The one list of each kind of name: tasks, import and export formats, aggregations.

The CLI's choices and the trainers' config checks use these; a module of constants only, so that
building the CLI's options imports nothing else.
"""

from __future__ import annotations

TASK_KINDS: tuple[str, ...] = ("rank", "pair", "rate", "thumbs")
IMPORT_FORMATS: tuple[str, ...] = ("native", "trl", "hh", "ultrafeedback", "sfb-axis")
EXPORT_FORMATS: tuple[str, ...] = ("annotations", "preference", "kto", "sft")
AGGREGATIONS: tuple[str, ...] = ("all", "majority", "borda", "adjudicated")
FALLBACKS: tuple[str, ...] = ("majority", "borda")  # for records without a review, with "adjudicated"
REVIEW_ORDERS: tuple[str, ...] = ("disputed", "annotator", "commented", "model-disagrees")  # the review queue's orders
STRATEGIES: tuple[str, ...] = ("fill", "spread", "uncertain")  # who gets which record (store.db.assignment)
