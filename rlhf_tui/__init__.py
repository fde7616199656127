"""rlhf-tui: rank LLM responses in the terminal, export preference data, train on it."""

__version__ = "0.1.0"
