"""The app's Chinese font, registered as Kivy's default before any widget exists.

Kivy's SDL2 text provider opens only face 0 of a font file, and face 0 of Debian's
NotoSansCJK-Regular.ttc is the Japanese one; the app therefore ships one single-face Simplified
Chinese font (mobile/fonts, made by scripts/make_mobile_font.py, SIL OFL 1.1).
"""

from __future__ import annotations

from pathlib import Path

FONT_FILE = Path(__file__).resolve().parent.parent / "fonts" / "NotoSansSC-Subset.otf"


def register_default_font() -> None:
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = str(FONT_FILE)
    # Every Label and TextInput uses DEFAULT_FONT ("Roboto") unless told otherwise: re-pointing
    # that name covers them all, bold and italic included (the subset has one weight).
    LabelBase.register(DEFAULT_FONT, path, path, path, path)
