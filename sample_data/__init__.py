"""The bundled sample datasets and guidelines, shipped as the package data `rlhf_tui.sample_data`
(this folder is its source) and read through importlib.resources."""
