"""Why a data file was refused, in Chinese, for a Chinese conversation.

`data.load` and `data.inspect` write each refusal once, in English (the CLI and the plan's JSON keep it so): the
file, the line where there is one, and what to do. `data_error_zh` gives the page's Chinese conversation the same
sentence in Chinese, its names, numbers and quoted values carried over; a library's own words quoted in a refusal
(a JSON parser's, pyarrow's) stay as they are, in brackets. A refusal the table does not know (a plugin reader's)
stays in English. tests/security/test_bad_data.py turns every file of its corpus of bad files through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

READS_ZH = "Tailor 可读取 CSV、TSV、JSON、JSONL、Parquet、Excel（.xlsx），以及每个类别一个 .txt 文件"
KINDS_ZH = {
    "a zip archive (an Excel .xlsx file is one: name it .xlsx, or export the sheet as CSV)":
        " zip 压缩包（Excel 的 .xlsx 文件就是一种：请把扩展名改成 .xlsx，或把工作表导出为 CSV）",
    "a PDF document": " PDF 文档", "a PNG image": " PNG 图片", "a JPEG image": " JPEG 图片",
    "an SQLite database": " SQLite 数据库",
    "an old Excel/Word file (export it as CSV)": "旧版 Excel/Word 文件（请导出为 CSV）",
    "a gzip archive (unpack it first)": " gzip 压缩包（请先解压）",
    "a Parquet file (name it .parquet)": " Parquet 文件（请把扩展名改成 .parquet）",
}
N = r"(\d[\d,]*)"

ERRORS: list[tuple[str, str | Callable[[re.Match], str]]] = [
    (r"file not found \((.+)\)", r"找不到文件（\1）"),
    (r"file not found", "找不到文件"),
    (r"is a folder, not a file; give one data file \(or one \.txt file per class\)",
     "是文件夹，不是文件；请给一个数据文件（或每个类别一个 .txt 文件）"),
    (r"unsupported file type (\S+); use one of (.+)", r"不支持的文件类型 \1；请用以下之一：\2"),
    (r"the file is empty", "文件是空的"),
    (rf"is {N} bytes, over the {N}-byte limit for a data file; split it, or sample the rows you need",
     r"有 \1 字节，超过数据文件 \2 字节的上限；请拆分文件，或只取需要的行"),
    (r"a \.txt file is one example per line, with no answers: give one file per class, each named by its class "
     r"\(positive\.txt, negative\.txt\), and Tailor labels every line with its file's name",
     "一个 .txt 文件是每行一条样例、不含答案：请每个类别给一个文件，用类别命名（positive.txt、negative.txt），"
     "Tailor 会用文件名给其中每一行打标签"),
    (r"the file holds only whitespace", "文件里只有空白"),
    (r"no rows found", "没有找到任何数据行"),
    (r"cannot be read as CSV \((.+)\)", r"无法按 CSV 读取（\1）"),
    (r"cannot be read as (.+?): (.+)", r"无法按 \1 读取：\2"),
    (r"the (.+?) reader did not return a list of rows", r"\1 读取器没有返回行列表"),
    (r"not valid text in UTF-8 or GBK; save it as UTF-8", "不是有效的 UTF-8 或 GBK 文本；请另存为 UTF-8"),
    (r"is saved as UTF-16 text; save it as UTF-8 \(in Excel: CSV UTF-8\)",
     "保存成了 UTF-16 文本；请另存为 UTF-8（在 Excel 里选 CSV UTF-8）"),
    (r"this is a binary file, not text; Tailor reads .+", f"这是二进制文件，不是文本；{READS_ZH}"),
    (r"this is (.+), not a text table; Tailor reads .+",
     lambda m: f"这是一个{KINDS_ZH.get(m.group(1), ' ' + m.group(1))}，不是文本表格；{READS_ZH}"),
    (r"contains a NUL byte, which text files do not; the file is damaged or not plain text \(save it again as "
     r"UTF-8\)", "含有 NUL 字节，文本文件里不会有；文件已损坏或不是纯文本（请重新另存为 UTF-8）"),
    (r"no header row", "没有表头行"),
    (r"the header row cannot be read \((.+)\)", r"表头行无法读取（\1）"),
    (r"the header row is empty", "表头行是空的"),
    (rf"a quote opened on this line is not closed until line {N}, so {N} rows in between were read as part of one "
     r"field; close the quote on this line", r"这一行打开的引号直到第 \1 行才关闭，中间的 \2 行被读成了同一个字段；"
     r"请在这一行关闭引号"),
    (rf"a quote opened on this line is not closed, so the field runs on to line {N}; close the quote or double it "
     r'\(""\) inside a quoted field', r'这一行打开的引号没有关闭，字段一直延续到第 \1 行；请关闭引号，或在带引号的'
     r'字段里把引号写两次（""）'),
    (r"a quote opened on this line is not closed, so the field runs on to the end of the file; close the quote or "
     r'double it \(""\) inside a quoted field', '这一行打开的引号没有关闭，字段一直延续到文件末尾；请关闭引号，'
     '或在带引号的字段里把引号写两次（""）'),
    (rf"a quote opened on this line is never closed \(the file ends inside it, line {N}\)",
     r"这一行打开的引号始终没有关闭（文件在引号里结束，第 \1 行）"),
    (rf"a field is longer than {N} characters; is a quote left open before it\?",
     r"有一个字段超过 \1 个字符；是不是前面有引号没关？"),
    (rf"has {N} fields but the header has {N}; quote fields that contain the delimiter",
     r"有 \1 个字段，但表头有 \2 个；含分隔符的字段请加引号"),
    (r"duplicate column names in the header: (.+); rename one of each so every column has its own name",
     r"表头里有重复的列名：\1；请把重复的改名，让每一列都有自己的名字"),
    (r"the key `(.+?)` appears twice in one object, and only one of its values could be used; remove or rename one",
     r"键 `\1` 在同一个对象里出现了两次，只能用其中一个值；请删除或改名其中一个"),
    (r"not valid JSON \((.+)\); each line must be one object", r"不是有效的 JSON（\1）；每行必须是一个对象"),
    (r"not valid JSON \((.+)\)", r"不是有效的 JSON（\1）"),
    (r"nested too deeply to be a table of examples \(hundreds of levels of brackets\); is this the right file\?",
     "嵌套太深，不像样例表（几百层括号）；是不是选错了文件？"),
    (r"expected a JSON object, got (\w+)", r"应为 JSON 对象，实际是 \1"),
    (r"expected a list of objects \(or an object holding exactly one such list\)",
     "应为对象列表（或只含一个这种列表的对象）"),
    (r"expected a list of objects", "应为对象列表"),
    (rf"item {N} is a (\w+), expected an object", r"第 \1 项是 \2，应为对象"),
    (r"not a readable Parquet file \((.+)\)", r"不是可读取的 Parquet 文件（\1）"),
    (r"not a readable \.xlsx workbook \(an \.xlsx file is a zip archive; this one is not\)",
     "不是可读取的 .xlsx 工作簿（.xlsx 文件是 zip 压缩包，这个不是）"),
    (r"not a readable \.xlsx workbook \((.+)\)", r"不是可读取的 .xlsx 工作簿（\1）"),
    (rf"unpacks to {N} bytes, over the limit for a data file; export the sheet you need as CSV",
     r"解压后有 \1 字节，超过数据文件的上限；请把需要的工作表导出为 CSV"),
    (rf"more than {N} cells; export the rows you need as CSV", r"超过 \1 个单元格；请把需要的行导出为 CSV"),
    (r"one file per class needs at least two files", "每个类别一个文件的方式至少需要两个文件"),
    (r"with several files, each must be a \.txt file of one class \(one example per line\)",
     "给多个文件时，每个都必须是一个类别的 .txt 文件（每行一条样例）"),
    (r"over the size limit for a data file", "超过数据文件的大小上限"),
    (r"holds no examples \(one per line\)", "没有样例（应每行一条）"),
    (r"every file names the same class; name each file by its class",
     "所有文件都是同一个类别；请用各自的类别给文件命名"),
    (rf"only {N} usable row: too few to learn from\. A fine-tune needs a few dozen examples at least, and hundreds "
     r"are better", r"只有 \1 行可用：太少，学不到东西。微调至少要几十条样例，几百条更好"),
    (r"the output column `(.+?)` is empty in every row \(empty output\): there is nothing to learn\. Fill it in, or "
     r"name the output column differently", r"输出列 `\1` 每一行都是空的：没有可学的内容。请填上，或换一个输出列"),
    (r"the input column `(.+?)` is empty in every row \(empty input\): the model would have nothing to read\. Fill "
     r"it in, or name the input column differently", r"输入列 `\1` 每一行都是空的：模型没有可读的内容。请填上，或换"
     r"一个输入列"),
    (r"every row has an empty output; there is nothing to learn \(every label is a missing value such as NaN or "
     r"None\)", "每一行的输出都是空的，没有可学的内容（每个标签都是 NaN、None 这类缺失值）"),
    (r"every row has an empty output; there is nothing to learn", "每一行的输出都是空的，没有可学的内容"),
    (r"every row has an empty input", "每一行的输入都是空的"),
    (r"conversation roles (.+) are not known, so no turn is the assistant's; name the roles user and assistant "
     r"\(or human and gpt\)", r"对话角色 \1 无法识别，所以没有一个回合是助手的；请把角色命名为 user 和 assistant"
     r"（或 human 和 gpt）"),
    (r"no usable text column: need an input column and an output column, found (.+)\. Name them e\.g\. "
     r"`text,label` or `input,output`", r"没有可用的文本列：需要一个输入列和一个输出列，只找到 \1。请命名为例如 "
     r"`text,label` 或 `input,output`"),
    (r"no column holds text \(columns: (.+)\)", r"没有一列是文本（各列：\1）"),
    (r"the file has changed since the plan was made \(its sha256 is not the plan's (\w+)…\): make the plan again, so "
     r"that its settings fit the data as it is now", r"文件在制定计划之后改动过（它的 sha256 不是计划里的 \1…）："
     r"请重新制定计划，让设置符合现在的数据"),
]
COMPILED = [(re.compile(f"^{pattern}$", re.S), zh) for pattern, zh in ERRORS]


def data_error_zh(error) -> str:
    """A `DataError` in Chinese: '<file> 第 N 行：<why>'; one the table does not know stays in English."""
    if (zh := reason_zh(error.message)) is not None:
        return Path(error.path).name + (f" 第 {error.line} 行" if error.line else "") + f"：{zh}"
    return str(error)


def reason_zh(said: str) -> str | None:
    """Why a file cannot be used (a `DataError`'s words after its file's name) in Chinese; None when the table
    does not know it."""
    return whole_sentence(COMPILED, said)


def whole_sentence(table, text: str) -> str | None:
    """`text` through the first (compiled whole-sentence pattern, Chinese) entry of `table` it matches; None when
    none does (the data warnings' table uses it too)."""
    for pattern, zh in table:
        if pattern.match(text):
            return pattern.sub(zh, text)
    return None
