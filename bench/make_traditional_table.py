"""Regenerate `assistant/chat/traditional.py`'s character table from OpenCC's, for the characters Tailor's own text
uses (run it after rules gain Chinese characters; OpenCC's tables ship in `opencc-python-reimplemented`):

    python -m venv /tmp/cc && /tmp/cc/bin/pip install opencc-python-reimplemented
    /tmp/cc/bin/python bench/make_traditional_table.py          (from the repository root)
"""

from __future__ import annotations

import re
from pathlib import Path

import opencc

EXTRA = "资料显示卡记忆体档案批次量笔"
"""The simplified words `traditional.WORDS` replaces, whose traditional characters are needed too."""


def load(folder: Path, name: str) -> dict[str, str]:
    pairs = (line.rstrip("\n").split("\t") for line in (folder / name).read_text(encoding="utf-8").splitlines())
    return {k: v.split(" ")[0] for k, v in pairs}


def main() -> None:
    folder = Path(opencc.__file__).parent / "dictionary"
    ts = load(folder, "TSCharacters.txt")
    target = Path("assistant/chat/traditional.py")
    vocab = set(EXTRA)
    for f in Path("assistant").rglob("*.py"):
        if f != target:
            vocab |= set(re.findall(r"[\u4e00-\u9fff]", f.read_text(encoding="utf-8")))
    table = {t: s for t, s in ts.items() if len(t) == len(s) == 1 and s in vocab and t != s}
    for rev in ("TWVariantsRev.txt", "HKVariantsRev.txt"):  # a Taiwan or Hong Kong form: its standard one's
        for v, t in load(folder, rev).items():
            s = ts.get(t, t)
            if len(v) == len(s) == 1 and s in vocab and v != s:
                table.setdefault(v, s)
    table = {t: s for t, s in table.items() if t not in vocab}  # a character Tailor's text uses as simplified
    keys = "".join(sorted(table))
    values = "".join(table[k] for k in keys)
    lines = lambda s: "\n".join(f'    "{s[i:i + 100]}"' for i in range(0, len(s), 100))  # noqa: E731
    src = target.read_text(encoding="utf-8")
    start, end = src.index("TRADITIONAL = ("), src.index('"""Each traditional')
    target.write_text(src[:start] + f"TRADITIONAL = (\n{lines(keys)}\n)\nSIMPLIFIED = (\n{lines(values)}\n)\n"
                      + src[end:], encoding="utf-8")
    print(f"{len(keys)} characters")


if __name__ == "__main__":
    main()
