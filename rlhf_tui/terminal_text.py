"""Untrusted text (names, column names, prompts, model outputs from imported files) made
safe to print to a terminal: every control, escape, bidi and invisible character becomes
a visible stand-in, and the result is never read as Rich markup.

This is the one table of such characters; the CLI uses it directly and the app builds on
it. It imports rich only (never textual), so the CLI and the store's callers can use it.
"""

from __future__ import annotations

import unicodedata

from rich.text import Text

# C0 controls (except \t and \n) map to the U+2400 "control pictures" block: ESC → ␛.
_C0_PICTURES: dict[int, int | str] = {code: 0x2400 + code for code in range(0x20) if chr(code) not in "\t\n"}
_C0_PICTURES[0x7F] = 0x2421  # DEL → ␡
# C1 controls (U+0080–U+009F; U+009B is a one-byte CSI) have no pictures: show them as \x9b.
_C1_ESCAPES: dict[int, int | str] = {code: f"\\x{code:02x}" for code in range(0x80, 0xA0)}
# Characters that reorder, join, break or hide text, each shown as a named tag such as ⟦RLO⟧.
_TAG_NAMES = {
    # Bidi embeddings, overrides, isolates and marks (Trojan Source).
    0x202A: "LRE",
    0x202B: "RLE",
    0x202C: "PDF",
    0x202D: "LRO",
    0x202E: "RLO",
    0x2066: "LRI",
    0x2067: "RLI",
    0x2068: "FSI",
    0x2069: "PDI",
    0x200E: "LRM",
    0x200F: "RLM",
    0x061C: "ALM",
    # Line and paragraph separators would break lines behind the renderer's back.
    0x2028: "LS",
    0x2029: "PS",
    # Zero-width and invisible format characters (hidden text, look-alike names).
    0x200B: "ZWSP",
    0x200C: "ZWNJ",
    0x200D: "ZWJ",
    0x2060: "WJ",
    0x2061: "FA",
    0x2062: "IT",
    0x2063: "IS",
    0x2064: "IP",
    0xFEFF: "BOM",
    0x00AD: "SHY",
    0x180E: "MVS",
    # Hangul fillers: letters that render as nothing, so a name made of them looks blank.
    0x115F: "HCF",
    0x1160: "HJF",
    0x3164: "HF",
    0xFFA0: "HWHF",
    # Marks that render as nothing on their own: a run of them can carry hidden bytes.
    0x034F: "CGJ",
    0x17B4: "KIVAQ",
    0x17B5: "KIVAA",
    0x2800: "BRAILLE-BLANK",
}
# Variation selectors VS1–VS16 and VS17–VS256: invisible, and each one can encode a hidden byte.
_TAG_NAMES.update({0xFE00 + n: f"VS{n + 1}" for n in range(16)})
_TAG_NAMES.update({0xE0100 + n: f"VS{n + 17}" for n in range(240)})
# Any other format character (category Cf, e.g. U+E0041 TAG LATIN CAPITAL LETTER A) or a lone
# surrogate (Cs, which would also fail to encode) is shown by its code point.
_CODE_POINT_CATEGORIES = frozenset({"Cf", "Cs"})


class _Translation(dict[int, int | str]):
    """str.translate's table: the fixed entries above, other characters looked up once by category."""

    def __missing__(self, code: int) -> int | str:
        if unicodedata.category(chr(code)) in _CODE_POINT_CATEGORIES:
            replacement: int | str = f"⟦U+{code:04X}⟧"
        else:
            replacement = code  # kept as it is; cached so the category is looked up once
        self[code] = replacement
        return replacement


_TRANSLATION = _Translation({**_C0_PICTURES, **_C1_ESCAPES, **{code: f"⟦{name}⟧" for code, name in _TAG_NAMES.items()}})


def neutralise(text: str, *, one_line: bool = False) -> str:
    """The text with every control, escape, bidi and invisible character replaced by a visible stand-in.

    Newlines and tabs stay, unless `one_line`, when a newline shows as ␊ (a name inside a
    one-line message cannot start a line of its own). A Windows line ending becomes a plain
    newline; a lone CR elsewhere is a control and is shown as ␍."""
    safe = text.replace("\r\n", "\n").translate(_TRANSLATION)
    return safe.replace("\n", "\u240a") if one_line else safe


def plain(text: str, style: str = "", *, one_line: bool = False) -> Text:
    """A `Text` that prints `text` literally: `[red]` stays `[red]`, ESC shows as ␛, U+202E as ⟦RLO⟧."""
    return Text(neutralise(text, one_line=one_line), style=style)
