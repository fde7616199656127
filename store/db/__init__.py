"""The embedded database under `store.embedded`: opening the file (`connection`), schema
migrations, transactions, group commit, who gets which record next (`assignment`), and the queries
by area (`reviews`, `dataset_rows`). Never imports the team service."""
