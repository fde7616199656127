"""The embedded database under `store.embedded`: opening the file (`connection`), schema migrations,
the transaction helper, group commit, who gets which record next (`assignment`, `uncertainty`), and the
store's queries by area, one layer each, every layer built on the ones before: `base` (the connection,
its lock and what is kept in memory), `datasets`, `records` (and leases), `answers`, `team` (review,
with the SQL in `reviews`), `scores` (with `model_review`). Never imports the team service."""
