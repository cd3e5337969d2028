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

from ..config import environment
from ..errors import TailorError

TEXT_ENCODINGS = ("utf-8-sig", "gbk")
SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".xlsx", ".txt")
READS = "Tailor reads CSV, TSV, JSON, JSONL, Parquet, Excel (.xlsx) and one .txt file per class"
MAX_XLSX_CELLS = 20_000_000
"""Cells read from a spreadsheet at most (its compressed size says little about what it unpacks to)."""
MAX_FIELD_CHARS = 16 * 1024 * 1024
"""The longest single CSV field read (Python's csv module stops at 128 KiB by default)."""
MAGIC = {b"PK\x03\x04": "a zip archive (an Excel .xlsx file is one: name it .xlsx, or export the sheet as CSV)",
         b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
         b"SQLite format 3": "an SQLite database", b"\xd0\xcf\x11\xe0": "an old Excel/Word file (export it as CSV)",
         b"\x1f\x8b": "a gzip archive (unpack it first)", b"PAR1": "a Parquet file (name it .parquet)"}


class Rows(list):
    """A file's rows (dicts), and what reading them decided that the person should be told (`notes`)."""

    def __init__(self, rows=(), notes: list[str] | None = None):
        super().__init__(rows)
        self.notes = notes or []


class DataError(TailorError, ValueError):
    """The data file cannot be used. The message names the file and, where it can, the line or row."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path, self.line, self.message = str(path), line, message
        where = f"{Path(path).name}, line {line}" if line else Path(path).name
        super().__init__(f"{where}: {message}")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_rows(path: str | Path) -> Rows:
    """All rows of the file as dicts (`Rows`, with notes on how it was read). Raises DataError on anything
    unusable."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a folder, not a file; give one data file (or one .txt file per class)")
    suffix = path.suffix.lower()
    readers = plugin_readers()
    if suffix not in SUFFIXES and suffix not in readers:
        raise DataError(path, f"unsupported file type {suffix or '(none)'}; use one of "
                              f"{', '.join([*SUFFIXES, *readers])}")
    size = path.stat().st_size
    if size == 0:
        raise DataError(path, "the file is empty")
    if size > (limit := environment().max_data_bytes):
        raise DataError(path, f"is {size:,} bytes, over the {limit:,}-byte limit for a data file; "
                              "split it, or sample the rows you need")
    if suffix == ".parquet":
        rows = _read_parquet(path)
    elif suffix == ".xlsx":
        rows = _read_xlsx(path, limit)
    elif suffix == ".txt":
        raise DataError(path, "a .txt file is one example per line, with no answers: give one file per class, each "
                              "named by its class (positive.txt, negative.txt), and Tailor labels every line with "
                              "its file's name")
    elif suffix in readers:
        rows = _read_with_plugin(path, readers[suffix])
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
    return rows if isinstance(rows, Rows) else Rows(rows)


def readable_suffixes() -> list[str]:
    """Every file suffix a data file may have: the built-in readers' and those installed plugins add."""
    return [*SUFFIXES, *plugin_readers()]


def plugin_readers() -> dict[str, Any]:
    """Suffix → the data format (from a plugin) that reads such files itself."""
    from .. import plugins

    return {suffix: fmt for fmt in plugins.get().format_order() for suffix in fmt.suffixes if suffix not in SUFFIXES}


def _read_with_plugin(path: Path, fmt: Any) -> list[dict[str, Any]]:
    text = _decode(path)
    try:
        rows = fmt.read(path, text)
    except ValueError as e:
        raise DataError(path, f"cannot be read as {fmt.name}: {e}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DataError(path, f"the {fmt.name} reader did not return a list of rows")
    return rows


def _decode(path: Path) -> str:
    data = path.read_bytes()
    _refuse_binary(path, data)
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


def _refuse_binary(path: Path, data: bytes) -> None:
    """A binary file is called what it is, instead of being decoded as GBK noise and found to have no rows."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(path, "is saved as UTF-16 text; save it as UTF-8 (in Excel: CSV UTF-8)")
    kind = next((what for magic, what in MAGIC.items() if data.startswith(magic)), None)
    if kind is not None:
        raise DataError(path, f"this is {kind}, not a text table; {READS}")
    head = data[:65536]
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    if head and control > 0.05 * len(head):
        raise DataError(path, f"this is a binary file, not text; {READS}")
    if b"\0" in data:
        at = data.index(b"\0")
        raise DataError(path, "contains a NUL byte, which text files do not; the file is damaged or not plain text "
                              "(save it again as UTF-8)", data[:at].count(b"\n") + 1)


def _read_delimited(path: Path, text: str, delimiter: str | None) -> list[dict[str, Any]]:
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines = text.splitlines()
    try:
        first = next(reader)
    except StopIteration:
        raise DataError(path, "no header row") from None
    except csv.Error as e:
        raise DataError(path, f"the header row cannot be read ({e})", 1) from None
    header = [h.strip() for h in first]
    if not any(header):
        raise DataError(path, "the header row is empty", 1)
    _no_duplicate_names(path, header, 1)
    rows, end = [], reader.line_num
    while True:
        start = end + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise DataError(path, _csv_problem(str(e), lines, start, reader.line_num), start) from None
        end = reader.line_num
        if not any(v.strip() for v in values):
            continue
        swallowed = _rows_inside(lines, start, end, delimiter, len(header))
        if swallowed >= 2:
            raise DataError(path, f"a quote opened on this line is not closed until line {end}, so {swallowed} rows "
                                  "in between were read as part of one field; close the quote on this line", start)
        if len(values) != len(header):
            if _opens_quote(lines, start) and (end > start or end >= len(lines)):  # to a line, or the file's end
                raise DataError(path, "a quote opened on this line is not closed, so the field runs on to "
                                      f"{f'line {end}' if end > start else 'the end of the file'}; close the quote or "
                                      "double it (\"\") inside a quoted field", start)
            raise DataError(path, f"has {len(values)} fields but the header has {len(header)}; quote fields that "
                                  "contain the delimiter", start)
        rows.append(dict(zip(header, values)))
    return _header_or_data(header, first, rows)


def _header_or_data(header: list[str], first: list, rows: list[dict[str, Any]]) -> Rows:
    """The rows of a table whose first row was taken for its header. A file without a header row would lose its
    first example and name its columns by it, silently: when one of that row's cells is a value its own column
    holds in at least two other rows (a label: `neg` over rows labelled neg and pos), the row is data. It is then
    kept as the first row, the columns are named `column 1`, `column 2`, … and a note says so. A header of 0, 1, …
    (pandas' names for unnamed columns, over a 0/1 label column) stays a header."""
    if header == [str(i) for i in range(len(header))]:
        return Rows(rows)
    for name in header:
        if name and (seen := sum(str(r.get(name, "")).strip() == name for r in rows)) >= 2:
            names = [f"column {i + 1}" for i in range(len(header))]
            note = (f"the first row looks like data, not column names (`{name[:40]}` is the value of its column in "
                    f"{seen} other rows), so it is read as a row and the columns are named {names[0]} to "
                    f"{names[-1]}; add a header row to name them")
            return Rows([dict(zip(names, first)), *({n: r.get(h) for n, h in zip(names, header)} for r in rows)],
                        [note])
    return Rows(rows)


def _no_duplicate_names(path: Path, names: list[str], line: int | None = None) -> None:
    """Two columns of one name would be read as one (the later overwriting the earlier): refused, named."""
    dupes = {h for h in names if names.count(h) > 1 and h}
    if dupes:
        raise DataError(path, f"duplicate column names in the header: {', '.join(sorted(dupes))}; rename one of "
                              "each so every column has its own name", line)


def _rows_inside(lines: list[str], start: int, end: int, delimiter: str, width: int) -> int:
    """How many of the lines inside one multi-line record look like complete rows of their own: the sign of a
    quote left open (a quoted field with line breaks holds prose, not rows)."""
    if end - start < 2 or not _opens_quote(lines, start):
        return 0
    inner = lines[start:end - 1]
    return sum(1 for ln in inner if '"' not in ln and len(ln.split(delimiter)) == width)


def _opens_quote(lines: list[str], line: int) -> bool:
    """Whether the physical line leaves a quote open (an odd number of double quotes)."""
    return 0 < line <= len(lines) and lines[line - 1].count('"') % 2 == 1


def _csv_problem(error: str, lines: list[str], start: int, end: int) -> str:
    if "field larger than field limit" in error:
        return f"a field is longer than {MAX_FIELD_CHARS:,} characters; is a quote left open before it?"
    if _opens_quote(lines, start):
        return f"a quote opened on this line is never closed (the file ends inside it, line {end})"
    return f"cannot be read as CSV ({error})"


class _TwiceNamed(ValueError):
    """An object with the same key twice: Python's json keeps the last silently."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _one_of_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        raise _TwiceNamed(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def _twice(key: str) -> str:
    return (f"the key `{key[:80]}` appears twice in one object, and only one of its values could be used; remove or "
            "rename one")


def _read_jsonl(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_one_of_each)
        except _TwiceNamed as e:
            raise DataError(path, _twice(e.key), i) from None
        except json.JSONDecodeError as e:
            raise DataError(path, f"not valid JSON ({e.msg} at column {e.colno}); each line must be one object",
                            i) from None
        except RecursionError:
            raise DataError(path, _TOO_DEEP, i) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", i)
        rows.append(obj)
    return rows


def _read_json(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        obj = json.loads(text, object_pairs_hook=_one_of_each)
    except _TwiceNamed as e:
        raise DataError(path, _twice(e.key)) from None
    except RecursionError:
        raise DataError(path, _TOO_DEEP) from None
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


_TOO_DEEP = "nested too deeply to be a table of examples (hundreds of levels of brackets); is this the right file?"


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        names = pq.ParquetFile(path).schema_arrow.names
        _no_duplicate_names(path, names)
        table = pq.read_table(path)
    except DataError:
        raise
    except Exception as e:  # pyarrow raises several types for corrupt files; its first line says what
        raise DataError(path, f"not a readable Parquet file ({str(e).strip().splitlines()[0][:300]})") from None
    return table.to_pylist()


def _read_xlsx(path: Path, limit: int) -> Rows:
    """The first sheet of an Excel workbook that holds rows: its first non-empty row names the columns. A
    workbook of several sheets says which one was read and which were not."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError):
        raise DataError(path, "not a readable .xlsx workbook (an .xlsx file is a zip archive; this one is not)") \
            from None
    if unpacked > 4 * limit:
        raise DataError(path, f"unpacks to {unpacked:,} bytes, over the limit for a data file; export the sheet "
                              "you need as CSV")
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for damaged or non-Excel zips
        raise DataError(path, f"not a readable .xlsx workbook ({type(e).__name__}: {e})") from None
    header, first, rows, cells = [], [], [], 0
    try:
        for sheet in book.worksheets:  # a cover or notes sheet before the data is passed over
            header, first, rows, cells = _sheet_rows(path, sheet, cells)
            if rows:
                break
        names = book.sheetnames
    finally:
        book.close()
    out = _header_or_data(header, first, rows) if rows else Rows()
    if rows and len(names) > 1:
        others = [n for n in names if n != sheet.title]
        out.notes.append(f"this workbook has {len(names)} sheets: {sheet.title!r} was read (the first that holds "
                         f"rows), not {', '.join(map(repr, others[:5]))}{' …' if len(others) > 5 else ''}; put every "
                         "row on one sheet, or export each sheet you need as CSV")
    return out


def _sheet_rows(path: Path, sheet, cells: int) -> tuple[list[str], list, list[dict[str, Any]], int]:
    """(column names, the first non-empty row as read, the rows after it, the cells read so far counting the
    `cells` of the sheets before) of one worksheet."""
    header: list[str] = []
    first: list = []
    rows: list[dict[str, Any]] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells += len(values)
        if cells > MAX_XLSX_CELLS:
            raise DataError(path, f"more than {MAX_XLSX_CELLS:,} cells; export the rows you need as CSV", number)
        if not header:
            if any(v not in (None, "") for v in values):
                first = list(values)
                header = [str(v).strip() if v not in (None, "") else f"column {i + 1}" for i, v in enumerate(values)]
                _no_duplicate_names(path, header, number)
            continue
        if any(v not in (None, "") for v in values):
            rows.append({h: v for h, v in zip(header, values)})
    return header, first, rows, cells


def combine_class_files(paths: list[str | Path], dest_dir: Path) -> Path:
    """One file per class (`positive.txt`, `negative.txt`: one example per line, the class in the file's name)
    → one CSV of text,label in `dest_dir`, named by its contents' fingerprint. Each file is decoded and checked
    like any data file; an empty line is skipped."""
    import csv as csv_module

    files = [Path(p) for p in paths]
    if len(files) < 2:
        raise DataError(files[0] if files else Path("."), "one file per class needs at least two files")
    rows: list[tuple[str, str]] = []
    for p in files:
        if p.suffix.lower() != ".txt":
            raise DataError(p, "with several files, each must be a .txt file of one class (one example per line)")
        if not p.exists() or p.stat().st_size == 0:
            raise DataError(p, "file not found" if not p.exists() else "the file is empty")
        if p.stat().st_size > environment().max_data_bytes:
            raise DataError(p, "over the size limit for a data file")
        label = p.stem.strip()
        lines = [line.strip() for line in _decode(p).splitlines()]
        if not any(lines):
            raise DataError(p, "holds no examples (one per line)")
        rows += [(line, label) for line in lines if line]
    if len({label for _, label in rows}) < 2:
        raise DataError(files[0], "every file names the same class; name each file by its class")
    out = io.StringIO()
    writer = csv_module.writer(out, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8")
    target = dest_dir / hashlib.sha256(data).hexdigest()[:16] / ("-".join(p.stem for p in files)[:80] + ".csv")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


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
