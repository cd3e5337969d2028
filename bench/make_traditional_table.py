"""Regenerate `assistant/chat/traditional.py`'s tables from OpenCC's, for the characters and words Tailor's own
text uses (run it after rules or replies gain Chinese characters; OpenCC's tables ship in
`opencc-python-reimplemented`):

    python -m venv /tmp/cc && /tmp/cc/bin/pip install opencc-python-reimplemented
    /tmp/cc/bin/python bench/make_traditional_table.py          (from the repository root)

Reading: TSCharacters, TWVariantsRev and HKVariantsRev (a traditional character as the simplified one Tailor's
text uses). Writing: every character of STCharacters as its first choice with Taiwan's variant (TWVariants), as
OpenCC's s2tw does, and the STPhrases words in Tailor's text whose characters alone would be converted otherwise
("分钟" is "分鐘", not "分鍾"; "恢复" is "恢復", so "恢复上" is not "恢覆上"). Telling the scripts apart: the
characters that each side writes and the other does not ("这" or "這"; not "台", "后" or "著", which both do)."""

from __future__ import annotations

import re
from pathlib import Path

import opencc

EXTRA = "资料显示卡记忆体档案批次量笔"
"""The simplified words `traditional.WORDS` replaces, whose traditional characters are needed too."""
MISREAD = ("个中", "数里", "半只")
"""OpenCC's words that match across two of Tailor's ("一个中文", "步数里", "多半只会"): left out."""
TARGET = Path("assistant/chat/traditional.py")
HAN = r"[\u4e00-\u9fff]"


def choices(folder: Path, name: str) -> dict[str, list[str]]:
    pairs = (line.rstrip("\n").split("\t") for line in (folder / name).read_text(encoding="utf-8").splitlines())
    return {k: v.split(" ") for k, v in pairs}


def load(folder: Path, name: str) -> dict[str, str]:
    return {k: v[0] for k, v in choices(folder, name).items()}


def tailors_text() -> str:
    """Every run of Chinese characters in Tailor's code (the target's own tables left out), one per line."""
    runs = []
    for f in [*Path("assistant").rglob("*.py"), *Path("ui").rglob("*.py")]:
        if f != TARGET:
            runs += re.findall(rf"{HAN}+", f.read_text(encoding="utf-8"))
    return "\n".join(dict.fromkeys(runs))


def lines(s: str) -> str:
    return "\n".join(f'    "{s[i:i + 100]}"' for i in range(0, len(s), 100))


def word_lines(words: list[str]) -> str:
    """Words in lines that fit 120 columns (a Chinese character takes two), each line's last followed by a space."""
    rows, row = [], ""
    for w in words:
        if row and len(row) + len(w) + len(re.findall(HAN, row + w)) > 100:
            rows.append(row)
            row = ""
        row += w + " "
    return "\n".join(f'    "{r}"' for r in [*rows, row])


def main() -> None:
    folder = Path(opencc.__file__).parent / "dictionary"
    ts, st, tw = (load(folder, n) for n in ("TSCharacters.txt", "STCharacters.txt", "TWVariants.txt"))
    text = tailors_text()
    vocab = set(EXTRA) | set(re.findall(HAN, text))
    table = {t: s for t, s in ts.items() if len(t) == len(s) == 1 and s in vocab and t != s}
    for rev in ("TWVariantsRev.txt", "HKVariantsRev.txt"):  # a Taiwan or Hong Kong form: its standard one's
        for v, t in load(folder, rev).items():
            s = ts.get(t, t)
            if len(v) == len(s) == 1 and s in vocab and v != s:
                table.setdefault(v, s)
    table = {t: s for t, s in table.items() if t not in vocab}  # a character Tailor's text uses as simplified
    keys = "".join(sorted(table))
    values = "".join(table[k] for k in keys)

    def to_tw(s: str) -> str:
        return "".join(tw.get(c, c) for c in s)

    st_all, ts_all = choices(folder, "STCharacters.txt"), choices(folder, "TSCharacters.txt")
    hant = {s: to_tw(t) for s, t in sorted(st.items()) if len(s) == len(t) == 1 and to_tw(t) != s}
    for s, t in tw.items():  # "着" is "著" in Taiwan
        hant.setdefault(s, t)
    either = {s for s in hant if s not in st_all or s in st_all[s]}  # "台", "后", "里": traditional text has them
    either |= {t for t in hant.values() if t not in ts_all or t in ts_all[t]}  # "著": so has simplified
    phrases = {s: to_tw(t) for s, t in load(folder, "STPhrases.txt").items()
               if len(s) > 1 and s in text and s not in MISREAD}
    runs = text.split("\n")

    def convert(words: dict[str, str]) -> list[str]:
        found = re.compile("|".join(sorted(words, key=len, reverse=True)))
        return [found.sub(lambda m: words[m.group()], r).translate(str.maketrans(hant)) for r in runs]

    whole = convert(phrases)
    for s in [s for s, t in phrases.items() if t == "".join(hant.get(c, c) for c in s)]:
        if convert({k: v for k, v in phrases.items() if k != s}) == whole:
            del phrases[s]  # a word its characters convert alone, which keeps no other word from matching wrongly
    cc = opencc.OpenCC("s2tw")
    for run, mine in zip(runs, whole):
        if mine != cc.convert(run):
            print(f"differs from OpenCC: {run} → {mine} (OpenCC: {cc.convert(run)})")
    src = TARGET.read_text(encoding="utf-8")
    start, end = src.index("TRADITIONAL = ("), src.index('"""Each traditional')
    src = src[:start] + f"TRADITIONAL = (\n{lines(keys)}\n)\nSIMPLIFIED = (\n{lines(values)}\n)\n" + src[end:]
    start, end = src.index("FROM_SIMPLIFIED = ("), src.index('"""For writing: each simplified')
    pairs = [s if s == t else f"{s}={t}" for s, t in sorted(phrases.items())]  # "限制": kept whole
    src = (src[:start] + f"FROM_SIMPLIFIED = (\n{lines(''.join(hant))}\n)\nTO_TRADITIONAL = (\n"
           f"{lines(''.join(hant.values()))}\n)\nEITHER = (\n{lines(''.join(sorted(either)))}\n)\n"
           f"PHRASES = (\n{word_lines(pairs)}\n)\n" + src[end:])
    TARGET.write_text(src, encoding="utf-8")
    print(f"{len(keys)} characters read, {len(hant)} written ({len(either)} in both scripts), {len(phrases)} words")


if __name__ == "__main__":
    main()
