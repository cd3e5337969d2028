"""Reading a user's data file into rows, with errors that name the file and the line or row.

CSV, TSV, JSON (a list of objects, or an object holding one), JSONL and Parquet; text files in UTF-8,
UTF-8 with BOM or GBK (Chinese spreadsheets exported from Excel).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

TEXT_ENCODINGS = ("utf-8-sig", "gbk")
SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")


class DataError(ValueError):
    """The data file cannot be used. The message names the file and, where it can, the line or row."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{Path(path).name}, line {line}" if line else Path(path).name
        super().__init__(f"{where}: {message}")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """All rows of the file as dicts. Raises DataError on anything unusable."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(path, f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUFFIXES)}")
    if path.stat().st_size == 0:
        raise DataError(path, "the file is empty")
    if suffix == ".parquet":
        rows = _read_parquet(path)
    else:
        text = _decode(path)
        if not text.strip():
            raise DataError(path, "the file holds only whitespace")
        if suffix in (".csv", ".tsv"):
            rows = _read_delimited(path, text, "\t" if suffix == ".tsv" else None)
        elif suffix == ".jsonl":
            rows = _read_jsonl(path, text)
        else:
            rows = _read_json(path, text)
    if not rows:
        raise DataError(path, "no rows found")
    return rows


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for enc in TEXT_ENCODINGS:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    # Name the line of the first undecodable byte so the user can find it.
    err_at = 0
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        err_at = e.start
    line = data[:err_at].count(b"\n") + 1
    raise DataError(path, "not valid text in UTF-8 or GBK; save it as UTF-8", line)


def _read_delimited(path: Path, text: str, delimiter: str | None) -> list[dict[str, Any]]:
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, "no header row") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(path, "the header row is empty", 1)
    dupes = {h for h in header if header.count(h) > 1 and h}
    if dupes:
        raise DataError(path, f"duplicate column names in the header: {', '.join(sorted(dupes))}", 1)
    rows = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise DataError(
                path,
                f"has {len(values)} fields but the header has {len(header)}; "
                "quote fields that contain the delimiter",
                line,
            )
        rows.append(dict(zip(header, values)))
    return rows


def _read_jsonl(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"not valid JSON ({e.msg} at column {e.colno}); each line must be one object", i) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", i)
        rows.append(obj)
    return rows


def _read_json(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        # A .json file that is really JSON Lines is common; accept it.
        if e.msg == "Extra data":
            return _read_jsonl(path, text)
        raise DataError(path, f"not valid JSON ({e.msg} at column {e.colno})", e.lineno) from None
    if isinstance(obj, dict):
        lists = [v for v in obj.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) != 1:
            raise DataError(path, "expected a list of objects (or an object holding exactly one such list)")
        obj = lists[0]
    if not isinstance(obj, list):
        raise DataError(path, "expected a list of objects")
    for i, row in enumerate(obj, start=1):
        if not isinstance(row, dict):
            raise DataError(path, f"item {i} is a {type(row).__name__}, expected an object")
    return obj


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise DataError(path, f"not a readable Parquet file ({e})") from None
    return table.to_pylist()


def save_upload(uploads_dir: Path, source: str | Path) -> Path:
    """Copy an uploaded file into the data home (named by its fingerprint), so jobs never lose their data."""
    import shutil

    source = Path(source)
    target = uploads_dir / sha256_file(source)[:16] / source.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return target
