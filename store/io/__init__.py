"""Import and export: reading files (`readers`), recognising and normalising their formats
(`formats`), validating and inserting them (`importer`), and writing exports (`export`)."""
