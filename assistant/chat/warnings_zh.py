"""The plan's data warnings in Chinese, for the Chinese plan card.

`data.inspect`, `data.load` and the planner write each warning once, in English (the plan's JSON and the CLI keep
it so). A Chinese conversation's card shows them through `warning_zh`: each warning is one sentence the table
matches whole, its numbers, names and rows carried over. A warning the table lacks (a plugin's own) stays in
English rather than being guessed at; tests/test_conversations.py produces every warning and checks that none
is left in English.
"""

from __future__ import annotations

import re

from .errors_zh import reason_zh, whole_sentence

N = r"(\d[\d,.]*)"
ROWS = (re.compile(r" ?\((\d[\d,]*) rows?\)"), r"（\1 行）")
"""'(12 rows)' inside a list of names or labels."""

WARNINGS: list[tuple[str, object]] = [
    (r"answers hold template placeholders: (.+); fill them in before training, or the model learns to say them "
     r"literally", r"答案里有模板占位符：\1；训练前请把它们填好，否则模型会照原样学着说出来"),
    (rf"{N} conversations call tools: function calls are trained as the assistant's turns, tool results are given "
     r"in the `tool` role, and each row's `tools` list becomes its system message \(so the plan's instruction is "
     r"not added to those rows\)",
     r"\1 段对话调用了工具：函数调用作为助手的回合训练，工具结果以 `tool` 角色给出，每行的 `tools` 列表成为它的"
     r"系统消息（所以这些行不再加计划的指令）"),
    (r"conversation roles (.+) are not known and were read as the user's turns; rename them to user or assistant if "
     r"that is wrong", r"对话角色 \1 无法识别，已当作用户的回合读取；如果不对，请把它们改名为 user 或 assistant"),
    (rf"{N} conversations have more than one assistant turn \({N} answers\): every answer is trained, each with the "
     r"turns before it as its context; the held-out evaluation scores each conversation's last answer",
     r"\1 段对话有不止一个助手回合（共 \2 个回答）：每个回答都会训练，各以它之前的回合为上下文；留出集评测只给"
     r"每段对话的最后一个回答打分"),
    (rf"{N} conversations go on after their last assistant turn \(first: row {N}\); the turns after it are left "
     r"out, since nothing answers them",
     r"\1 段对话在最后一个助手回合之后还有内容（第一处：第 \2 行）；之后的回合没有回答，所以略去"),
    (rf"{N} rows have a missing label \(NaN, None, null or N/A\) and will be skipped \(first: row {N}\)",
     r"\1 行的标签缺失（NaN、None、null 或 N/A），将被跳过（第一处：第 \2 行）"),
    (rf"{N} rows have an empty output and will be skipped \(first: row {N}\)",
     r"\1 行的输出为空，将被跳过（第一处：第 \2 行）"),
    (rf"{N} rows have an empty input and will be skipped \(first: row {N}\)",
     r"\1 行的输入为空，将被跳过（第一处：第 \2 行）"),
    (rf"{N} duplicate rows", r"有 \1 行重复"),
    (r"tiny classes \(fewer than 5 rows\): (.+)", r"样本很少的类别（不足 5 行）：\1"),
    (r"labels that differ only in capitals or spacing are different answers to the model: (.+)\. Write each class "
     r"one way if they mean the same", r"只在大小写或空格上不同的标签，对模型来说是不同的答案：\1。如果意思相同，"
     r"请把每个类别统一成一种写法"),
    (rf"only {N} usable rows: the adapter will mostly memorise them; a few dozen examples is the least that works, "
     r"hundreds are better", r"只有 \1 行可用：适配器多半只会把它们背下来；至少要几十条样例，几百条更好"),
    (r"every row has the same output \((.+)\): the model would learn to always answer it\. Add rows with the other "
     r"answers \(for classification, every class\)",
     r"每一行的输出都相同（\1）：模型会学成总是这样回答。请加入其他答案的行（分类任务要有每个类别）"),
    (rf"the output column `(.+?)` has {N} different values in {N} rows: these are not classes\. If this is "
     r"classification, check that column; else name it for what it holds \(e\.g\. `output`\)",
     r"输出列 `\1` 在 \3 行里有 \2 个不同的值：这些不是类别。如果这是分类任务，请检查这一列；否则请按它的内容给它"
     r"命名（例如 `output`）"),
    (r"nested objects or lists in (.+): they are given to the model as JSON text; flatten them if that is not what "
     r"you want", r"\1 中有嵌套的对象或列表：它们会以 JSON 文本交给模型；如果这不是你想要的，请把它们展平"),
    (rf"{N} values held NUL characters, which were removed", r"有 \1 个值含有 NUL 字符，已删除"),
    (rf"the first row looks like data, not column names \(`(.+?)` is the value of its column in {N} other rows\), "
     r"so it is read as a row and the columns are named (.+?) to (.+?); add a header row to name them",
     r"第一行看起来是数据而不是列名（`\1` 是它那一列在另外 \2 行里的值），所以把它当作一行数据读取，各列命名为"
     r" \3 到 \4；加上表头行就能给它们命名"),
    (rf"this workbook has {N} sheets: (.+?) was read \(the first that holds rows\), not (.+); put every row on one "
     r"sheet, or export each sheet you need as CSV",
     r"这个工作簿有 \1 个工作表：读取的是 \2（第一个有数据的），没有读 \3；请把所有行放在一个工作表里，或把需要的"
     r"每个工作表导出为 CSV"),
    (r"you asked to leave out `(.+?)`, but the input columns are (.+); nothing was left out",
     r"你要求去掉 `\1`，但输入列是 \2；没有去掉任何列"),
    (r"you asked to read only `(.+?)`, but the input columns are (.+); nothing was left out",
     r"你要求只用 `\1` 作输入，但输入列是 \2；没有去掉任何列"),
    (r"you named `(.+?)` as the output column, but it has no column `.+?` \(its columns: (.+)\); the output stays "
     r"`(.+?)`", r"你指定 `\1` 为输出列，但文件里没有这一列（现有的列：\2）；输出列仍是 `\3`"),
    (r"you named `(.+?)` as the output column, but its rows are (\w+) examples, not a table's columns: the answer "
     r"each row trains is its own",
     r"你指定 `\1` 为输出列，但这个文件的每行是 \2 格式的样本，不是表格的列：每行训练的就是它自己的回答"),
    (r"you named `(.+?)` as the output column, but (.+); the output stays `(.+?)`",
     lambda m: f"你指定 `{m.group(1)}` 为输出列，但它不能作输出（{reason_zh(m.group(2)) or m.group(2)}）；输出列仍是 "
               f"`{m.group(3)}`"),
    (r"(\w+(?: and \w+)?) counts only answers equal to the reference, which few (\w+) answers are: expect it near 0 "
     r"\(rougeL, bleu and chrf measure how close they come\)",
     lambda m: f"{m.group(1).replace(' and ', ' 和 ')} 只把与参考答案完全相同的回答算对，而 {m.group(2)} 的回答"
               "很少完全相同：预计接近 0（rougeL、bleu 和 chrf 衡量的是有多接近）"),
    (r"you asked to leave out ([\w, ]+), but the held-out rows need a measure, so (\w+) stays",
     r"你要求不评估 \1，但验证集需要一个指标来打分，所以保留 \2"),
    (r"`(.+?)` is the only input column, so it stays: the model needs something to read",
     r"`\1` 是唯一的输入列，所以保留：模型总得有东西可读"),
    (rf"{N} rows are longer than max_length={N} tokens and will be truncated \(the longest has {N}\)",
     r"有 \1 行超过 max_length=\2 个 token，将被截断（最长的有 \3 个）"),
]
COMPILED = [(re.compile(f"^{pattern}$", re.S), zh) for pattern, zh in WARNINGS]


def warning_zh(warning: str) -> str:
    """A data warning in Chinese; one the table does not know stays as it was."""
    zh = whole_sentence(COMPILED, warning)
    return warning if zh is None else ROWS[0].sub(ROWS[1], zh)
