"""Data files the conversation corpus refers to, written into a folder by the tests."""

import json
from pathlib import Path


def write_corpus_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    reviews = "".join(f"review number {i} was {'great' if i % 2 else 'awful'},{'positive' if i % 2 else 'negative'}\n" for i in range(60))
    (folder / "reviews.csv").write_text("text,label\n" + reviews, encoding="utf-8")
    zh = "".join(f"这个产品第{i}次用{'很好用，推荐' if i % 2 else '质量很差，失望'},{'正面' if i % 2 else '负面'}\n" for i in range(60))
    (folder / "zh_reviews.csv").write_bytes(("评论,标签\n" + zh).encode("gbk"))
    (folder / "alpaca.json").write_text(json.dumps([
        {"instruction": "Summarize", "input": f"long article {i} " * 20, "output": f"summary {i}"} for i in range(30)]))
    (folder / "chat.jsonl").write_text("\n".join(json.dumps({"messages": [
        {"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}) for i in range(30)))
    (folder / "sharegpt.jsonl").write_text("\n".join(json.dumps({"conversations": [
        {"from": "human", "value": f"hi {i}"}, {"from": "gpt", "value": f"hello {i}"}]}) for i in range(30)))
    (folder / "pc.jsonl").write_text("\n".join(json.dumps({"prompt": f"Translate: cat {i}", "completion": f"猫 {i}"}) for i in range(30)))
    (folder / "extract.tsv").write_text("text\toutput\n" + "".join(
        f"Invoice {i} from ACME dated 2024-01-{i % 28 + 1:02d}\t{{\"vendor\": \"ACME\", \"n\": {i}}}\n" for i in range(30)))
    (folder / "broken.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{"prompt": oops}\n')
    (folder / "empty.csv").write_text("")
    (folder / "one_column.csv").write_text("text\nhello\nworld\n")
