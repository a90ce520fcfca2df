"""Build mobile/fonts/NotoSansSC-Subset.otf and its OFL.txt from Debian's Noto Sans CJK collection.

Why: Kivy's SDL2 text provider opens only face 0 of a ``.ttc``; in Debian's
``NotoSansCJK-Regular.ttc`` (package fonts-noto-cjk) face 0 is the Japanese one, whose glyph
shapes differ from the mainland standard and which Kivy cannot switch. The app ships one
single-face Simplified Chinese font instead: face "Noto Sans CJK SC" cut to the characters a
grid worker's screens need (GB 2312, ASCII and Latin-1, punctuation and full-width forms, plus
every character in the app's and the server's sources, so category names, divisions and
messages always render), a few MB instead of 19. The font stays under the SIL Open Font
License 1.1 (a subset is a Modified Version; Noto CJK's Reserved Font Name is "Source", which
the subset does not use), shipped next to it as OFL.txt.

Run from the repository root (needs fonts-noto-cjk and fontTools, which matplotlib brings)::

    .venv/bin/python scripts/make_mobile_font.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEBIAN_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")
FACE_NAME = "Noto Sans CJK SC"
ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "mobile" / "fonts"
# Sources whose characters must all be in the font: the screens and the server's messages,
# catalogues and demo data (what the app displays comes from there).
SCANNED = ("mobile", "server")
# The upstream LICENSE's header (googlefonts/noto-cjk); the font's name ID 0 carries its first half.
NOTICE = ("Copyright 2014-2021 Adobe (http://www.adobe.com/), with Reserved Font Name 'Source'.\n"
          "This Font Software is licensed under the SIL Open Font License, Version 1.1.\n"
          "This file, NotoSansSC-Subset.otf, is the face \"Noto Sans CJK SC\" of Debian's fonts-noto-cjk\n"
          "NotoSansCJK-Regular.ttc, subset by scripts/make_mobile_font.py (a Modified Version).")


def gb2312() -> set[int]:
    """Every character of GB 2312 (rows 0xA1–0xF7, cells 0xA1–0xFE; unassigned pairs skipped)."""
    chars: set[int] = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return chars


def blocks() -> set[int]:
    ranges = [(0x20, 0x7E), (0xA0, 0xFF),  # ASCII, Latin-1 (°, ±, ×, ·)
              (0x2000, 0x206F),  # general punctuation (—, …, “ ”)
              (0x2100, 0x214F),  # letterlike (℃, №)
              (0x2190, 0x21FF),  # arrows
              (0x2460, 0x24FF),  # enclosed numbers ①
              (0x25A0, 0x25FF),  # geometric shapes ● ○ ▲
              (0x3000, 0x303F),  # CJK symbols and punctuation
              (0x3200, 0x33FF),  # enclosed CJK, squared units (㎡, ㎞)
              (0xFE30, 0xFE4F),  # CJK compatibility forms
              (0xFF00, 0xFFEF)]  # full-width forms
    return {c for lo, hi in ranges for c in range(lo, hi + 1)}


def source_chars(root: Path) -> set[int]:
    chars: set[int] = set()
    for folder in SCANNED:
        for path in (root / folder).rglob("*"):
            if path.suffix in {".py", ".kv", ".json", ".md"} and path.is_file():
                chars.update(ord(c) for c in path.read_text(encoding="utf-8", errors="ignore") if ord(c) > 0x7F)
    return chars


def face_index(collection: TTCollection) -> int:
    for i, font in enumerate(collection.fonts):
        if font["name"].getDebugName(4) == FACE_NAME:
            return i
    raise SystemExit(f"{FACE_NAME} not found in {SOURCE}")


def licence_text(copyright_notice: str) -> str:
    """The font's copyright notice followed by the OFL 1.1 text Debian ships for the package."""
    text = DEBIAN_COPYRIGHT.read_text(encoding="utf-8")
    body = text.split("License: SIL-1.1\n", 2)[2].split("\nLicense: ", 1)[0]
    lines = [line[1:] if line.startswith(" ") else line for line in body.splitlines()]
    lines = ["" if line == "." else line for line in lines]
    return f"{copyright_notice}\n\n" + "\n".join(lines).strip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write into (default mobile/fonts)")
    args = parser.parse_args()
    collection = TTCollection(str(SOURCE))
    font = collection.fonts[face_index(collection)]
    wanted = gb2312() | blocks() | source_chars(ROOT)
    cmap = font.getBestCmap()
    unicodes = sorted(c for c in wanted if c in cmap)
    options = subset.Options()
    options.layout_features = ["*"]  # keep proportional punctuation and the like
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # screens are high-resolution; hints only add bytes
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "NotoSansSC-Subset.otf"
    font.save(str(target))
    (args.out / "OFL.txt").write_text(licence_text(NOTICE), encoding="utf-8")
    print(f"{target}: {len(unicodes)} characters, {target.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
