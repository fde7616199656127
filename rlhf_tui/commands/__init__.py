"""The commands of `rlhf-tui`, a module per group; each registers its commands on `rlhf_tui.cli_app.app`
when imported. `rlhf_tui.cli_app.COMMANDS` says which module holds which command, so that `rlhf-tui`
imports only the one it runs."""
