"""A corpus of bad, odd and hostile data files, each with the clean outcome a user should get from
`tailor plan --data`: a one-line error naming the file (and the line, where there is one) with exit status 2,
a plan with a warning that explains, or a plan. Never a traceback; and the web app says the same line."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from assistant.cli import main


def rows_csv(
    n: int, label=lambda i: "positive" if i % 2 else "negative", text=lambda i: f"review {i} of the shop"
) -> str:
    return "text,label\n" + "".join(f"{text(i)},{label(i)}\n" for i in range(n))


def jsonl(rows) -> str:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


def unclosed_quote_at_12() -> str:
    lines = [f"row {i} is fine,{'pos' if i % 2 else 'neg'}" for i in range(2, 70)]
    lines[10] = '"row 12 opens a quote and never closes it,pos'
    lines[63] = 'row 65 has "a quote" inside,neg'
    return "text,label\n" + "\n".join(lines) + "\n"


def sharegpt(roles: tuple[str, str], n: int = 30) -> str:
    return jsonl(
        {
            "conversations": [
                {"from": roles[0], "value": f"my order {i} is late"},
                {"from": roles[1], "value": f"sorry about order {i}"},
            ]
        }
        for i in range(n)
    )


def random_bytes(n: int) -> bytes:
    rng = random.Random(7)
    return bytes(rng.randrange(256) for _ in range(n))


def parquet_bytes(names: list[str], n: int = 30) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.Table.from_arrays([pa.array([f"{name} {i}" for i in range(n)]) for name in names], names=names),
                   out)
    return out.getvalue()


def xlsx_bytes(header: list[str], n: int = 30) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(header)
    for i in range(n):
        book.active.append([f"{h} {i}" for h in header])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


ERR, WARN, OK = "error", "warning", "ok"
CORPUS: list[tuple[str, str | bytes, str, str, int | None]] = [
    # name, content, outcome, what the message must say, the line it must name
    ("empty.csv", "", ERR, "the file is empty", None),
    ("whitespace.csv", "  \n\n \n", ERR, "only whitespace", None),
    ("header_only.csv", "text,label\n", ERR, "no rows found", None),
    ("bad_fields.csv", "text,label\ngood row,positive\nthis row,has,too many,fields\n", ERR, "has 4 fields", 3),
    ("unclosed_quote.csv", unclosed_quote_at_12(), ERR, "quote opened on this line is not closed", 12),
    ("unclosed_quote_eof.csv", rows_csv(4) + '"and this one never closes,pos\nmore,neg\n', ERR, "quote", 6),
    ("unclosed_quote_last.csv", rows_csv(4) + '"the last line never closes,pos\n', ERR,
     "quote opened on this line is not closed, so the field runs on to the end of the file", 6),
    ("deep.json", "[" * 100000 + "]" * 100000, ERR, "nested too deeply", None),
    (
        "deep.jsonl",
        jsonl([{"text": "a", "label": "x"}] * 2) + "[" * 100000 + "]" * 100000 + "\n",
        ERR,
        "nested too deeply",
        3,
    ),
    ("binary.csv", random_bytes(4096), ERR, "binary file", None),
    ("sheet.csv", b"PK\x03\x04" + random_bytes(200), ERR, "zip archive .*export the sheet as CSV", None),
    ("paper.csv", b"%PDF-1.4\n" + random_bytes(200), ERR, "PDF document", None),
    ("utf16.csv", "text,label\nhello,pos\n".encode("utf-16"), ERR, "UTF-16", None),
    ("nul.csv", b"text,label\nfine,pos\nbro\x00ken,neg\n", ERR, "NUL byte", 3),
    ("not_text.csv", b"text,label\nok,pos\n\xff\xfe\xff bad,neg\n", ERR, "not valid text in UTF-8 or GBK", 3),
    ("notes.txt", "hello", ERR, "a .txt file is one example per line, with no answers: give one file per class", None),
    ("notes.md", "hello", ERR, "unsupported file type .md", None),
    ("fake.xlsx", b"PK\x03\x04" + random_bytes(200), ERR, "not a readable .xlsx workbook", None),
    ("one_row.csv", "text,label\nonly one,pos\n", ERR, "only 1 usable row", None),
    ("no_outputs.csv", "text,label\nhello,\nworld,\nagain,\n", ERR, "empty in every row", None),
    ("all_nan.csv", rows_csv(30, label=lambda i: "NaN"), ERR, "every row has an empty output.*missing value", None),
    ("unknown_roles.jsonl", sharegpt(("client", "agent")), ERR, "roles 'agent', 'client' are not known", None),
    ("broken.jsonl", '{"prompt": "a", "completion": "b"}\n{"prompt": oops}\n', ERR, "not valid JSON", 2),
    ("list_line.jsonl", '{"prompt": "a", "completion": "b"}\n[1, 2]\n', ERR, "expected a JSON object", 2),
    ("scalar.json", "42", ERR, "expected a list of objects", None),
    ("two_lists.json", json.dumps({"a": [{"x": 1}], "b": [{"y": 2}]}), ERR, "exactly one such list", None),
    ("numbers.json", "[1, 2, 3]", ERR, "item 1 is a int", None),
    ("bad.json", '[{"text": "a", "label": "x"},\n {"text": "b" "label": "y"}]', ERR, "not valid JSON", 2),
    ("blank_rows.csv", "text,label\n,\n , \n,\n", ERR, "no rows found", None),
    ("one_column.csv", "text\nhello\nworld\n", ERR, "no usable text column", None),
    ("dupe_header.csv", "text,text\na,b\n", ERR, "duplicate column names", 1),
    ("blank_header.csv", ",\na,b\n", ERR, "header row is empty", 1),
    ("broken.parquet", b"PAR1" + random_bytes(100), ERR, "not a readable Parquet file", None),
    # two columns of one name: the later would silently overwrite the earlier (pyarrow's own error is 8 lines)
    ("dupe_columns.parquet", parquet_bytes(["text", "text", "label"]), ERR, "duplicate column names .*: text", None),
    ("dupe_header.xlsx", xlsx_bytes(["text", "label", "label"]), ERR, "duplicate column names .*: label", 1),
    # a key twice in one object: Python's json kept the last value without a word
    ("dupe_key.jsonl", jsonl([{"text": "a", "label": "x"}] * 3) + '{"text": "b", "label": "y", "text": "c"}\n', ERR,
     "the key `text` appears twice in one object", 4),
    ("dupe_key.json", '[{"messages": [{"role": "user", "content": "hi", "content": "bye"}]}]', ERR,
     "the key `content` appears twice", None),
    ("empty_inputs.csv", "text,label\n" + ",pos\n" * 5, ERR, "input column `text` is empty in every row", None),
    # a plan, with a warning that explains
    ("single_class.csv", rows_csv(30, label=lambda i: "positive"), WARN, "every row has the same output", None),
    (
        "many_labels.csv",
        rows_csv(100, label=lambda i: f"ticket-{i:04d}"),
        WARN,
        "100 different values in 100 rows",
        None,
    ),
    (
        "nan_labels.csv",
        rows_csv(40) + "".join(f"odd review {i},{v}\n" for i, v in enumerate(["NaN", "None", "null", "N/A"])),
        WARN,
        "4 rows have a missing label",
        None,
    ),
    (
        "nested.jsonl",
        jsonl({"text": {"title": f"t{i}", "body": f"b{i}"}, "label": "x" if i % 2 else "y"} for i in range(30)),
        WARN,
        "nested objects or lists in `text`",
        None,
    ),
    (
        "lists.json",
        json.dumps([{"question": f"q{i}", "answer": [f"a{i}", "b"]} for i in range(30)]),
        WARN,
        "nested objects or lists in `answer`",
        None,
    ),
    ("customer_bot.jsonl", sharegpt(("customer", "bot")), WARN, "roles 'customer' are not known", None),
    ("few_rows.csv", rows_csv(5), WARN, "only 5 usable rows", None),
    (
        "escaped_nul.jsonl",
        jsonl({"prompt": f"p\u0000{i}", "completion": f"c{i}"} for i in range(30)),
        WARN,
        "NUL characters, which were removed",
        None,
    ),
    ("tiny_classes.csv", rows_csv(40) + "rare one,unusual\n", WARN, "tiny classes", None),
    ("duplicates.csv", rows_csv(30) + "review 1 of the shop,positive\n" * 3, WARN, "3 duplicate rows", None),
    ("some_empty.csv", rows_csv(30) + "no label here,\n" * 2, WARN, "2 rows have an empty output", None),
    # a plan
    ("big_field.csv", rows_csv(30) + '"' + "long " * 50000 + '",positive\n', OK, "", None),
    (
        "quoted_newlines.csv",
        'text,label\n"first line\nsecond line",pos\n' + rows_csv(30)[len("text,label\n") :],
        OK,
        "",
        None,
    ),
    ("semicolons.csv", rows_csv(30).replace(",", ";"), OK, "", None),
    (
        "wrapped.json",
        json.dumps({"data": [{"text": f"t{i}", "label": "a" if i % 2 else "b"} for i in range(30)]}),
        OK,
        "",
        None,
    ),
    ("jsonl_named.json", jsonl({"prompt": f"p{i}", "completion": f"c{i}"} for i in range(30)), OK, "", None),
    (
        "gbk.csv",
        (
            "评论,标签\n"
            + "".join(f"第{i}次购物很{'好' if i % 2 else '差'},{'正面' if i % 2 else '负面'}\n" for i in range(30))
        ).encode("gbk"),
        OK,
        "",
        None,
    ),
    ("bom.csv", rows_csv(30).encode("utf-8-sig"), OK, "", None),
]


def plan_for(path: Path, capsys) -> tuple[int, dict | None, str]:
    code = main(["plan", "--json", "--gpu-memory", "0", "--data", str(path), "classify these"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err.strip()


def test_the_corpus_covers_at_least_45_files():
    assert len(CORPUS) >= 45 and len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("name, content, outcome, says, line", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_bad_file_has_a_clean_outcome(name, content, outcome, says, line, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    code, result, err = plan_for(path, capsys)
    if outcome == ERR:
        assert code == 2, f"expected a refusal, got a plan: {result and result['data']['warnings']}"
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        where = f"{name}, line {line}:" if line else f"{name}:"
        assert err.startswith(f"error: {where}"), err
        assert re.search(says, err), err
        return
    assert code == 0, err
    warnings = result["data"]["warnings"]
    if outcome == WARN:
        assert any(re.search(says, w) for w in warnings), warnings
        assert result["reply"].count(says.split()[0]) >= 1  # the reply tells the user, not only the JSON
    else:
        assert result["plan"]["data"]["rows"] >= 30, result["plan"]["data"]


def test_every_refusal_reads_in_chinese_for_a_chinese_conversation(tmp_path):
    """Each refused file of the corpus, as a Chinese conversation's page says it: the file and line, then why and
    what to do in Chinese; a library's own words quoted in brackets may stay English, nothing else."""
    from assistant.chat.errors_zh import data_error_zh
    from assistant.chat.reasons_zh import untranslated
    from assistant.data import DataError, inspect_file

    refused = 0
    for name, content, outcome, _, line in CORPUS:
        if outcome != ERR:
            continue
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        with pytest.raises(DataError) as caught:
            inspect_file(path)
        zh = data_error_zh(caught.value)
        assert zh.startswith(f"{name} 第 {line} 行：" if line else f"{name}："), zh
        outside = re.sub(r"（[^（）]*）|`[^`]*`|'[^']*'|\.[a-z]+\b", "", zh.split("：", 1)[1])
        assert untranslated(outside) == [], (name, zh)
        refused += 1
    assert refused >= 30


def test_values_are_shown_as_the_user_wrote_them(tmp_path):
    """Nested values become JSON, not Python's repr; NaN labels are no class; NUL characters are gone."""
    from assistant.data import inspect_file

    nested = tmp_path / "nested.jsonl"
    nested.write_text(jsonl({"text": {"title": f"t{i}"}, "label": ["a", "b"][i % 2]} for i in range(30)))
    r = inspect_file(nested)
    assert r.examples[0]["prompt"] == '{"title": "t0"}'
    nan = tmp_path / "nan.csv"
    nan.write_text(rows_csv(40) + "x,NaN\ny,None\n")
    r = inspect_file(nan)
    assert set(r.labels) == {"positive", "negative"} and r.rows == 40


def test_a_field_over_the_limit_names_its_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("assistant.data.load.MAX_FIELD_CHARS", 1000)
    path = tmp_path / "huge.csv"
    path.write_text(rows_csv(10) + "x" * 5000 + ",pos\n")
    code, _, err = plan_for(path, capsys)
    assert code == 2 and err.startswith("error: huge.csv, line 12:") and "longer than 1,000 characters" in err


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TAILOR_MAX_DATA_BYTES", "100")
    path = tmp_path / "big.csv"
    path.write_text(rows_csv(30))
    code, _, err = plan_for(path, capsys)
    assert code == 2 and "over the 100-byte limit" in err


def test_the_web_app_says_the_same_line_and_stores_nothing(tmp_path, capsys):
    from assistant.config import Home
    from assistant.models.estimate import CPU
    from assistant.registry import Registry
    from assistant.serve.engine import Engine
    from ui.assistant_tab import chat
    from ui.context import Context

    home = Home.resolve()
    reg = Registry(home)
    ctx = Context(home, reg, Engine(reg, "unused"), CPU)
    for name, content in (("deep.json", "[" * 100000 + "]" * 100000), ("unclosed_quote.csv", unclosed_quote_at_12())):
        path = tmp_path / name
        path.write_text(content)
        _, _, cli_line = plan_for(path, capsys)
        r = chat(ctx, "", str(path), [], None)
        said = r["history"][-1]["content"]
        assert cli_line.removeprefix("error: ") in said and name in said
        assert not home.uploads.exists() or not any(home.uploads.rglob(name)), "a refused file was stored"
