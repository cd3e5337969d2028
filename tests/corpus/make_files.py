"""Data files the conversation corpus refers to, written into a folder by the tests."""

import json
from pathlib import Path


def write_corpus_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    queues = {"billing": ("Refund not received", "I was charged twice for my order {i} so please refund the extra"),
              "technical": ("App crashes on start", "Since the update the app closes when I open screen {i}"),
              "account": ("Cannot log in", "My password reset link {i} never arrives in my inbox")}
    tickets = "".join(
        f"{1000 + i},2024-03-{1 + i % 28:02d},{subject} #{i},{body.format(i=i)},{queue}\n"
        for i in range(60) for queue, (subject, body) in [list(queues.items())[i % 3]])
    (folder / "tickets.csv").write_text("id,created,subject,body,queue\n" + tickets, encoding="utf-8")
    reviews = "".join(
        f"review number {i} was {'great' if i % 2 else 'awful'},{'positive' if i % 2 else 'negative'}\n"
        for i in range(60)
    )
    (folder / "reviews.csv").write_text("text,label\n" + reviews, encoding="utf-8")
    zh = "".join(
        f"这个产品第{i}次用{'很好用，推荐' if i % 2 else '质量很差，失望'},{'正面' if i % 2 else '负面'}\n"
        for i in range(60)
    )
    (folder / "zh_reviews.csv").write_bytes(("评论,标签\n" + zh).encode("gbk"))
    ja = "".join(f"この商品は{i}回目も{'とても良いです、おすすめです' if i % 2 else '品質が悪くてがっかりしました'},"
                 f"{'positive' if i % 2 else 'negative'}\n" for i in range(60))
    (folder / "ja_reviews.csv").write_text("text,label\n" + ja, encoding="utf-8")
    fr = "".join(f"avis {i} : le produit est {'très bien et je le recommande' if i % 2 else 'nul et pas solide'},"
                 f"{'positive' if i % 2 else 'negative'}\n" for i in range(60))
    (folder / "fr_reviews.csv").write_text("text,label\n" + fr, encoding="utf-8")
    (folder / "alpaca.json").write_text(
        json.dumps(
            [
                {"instruction": "Summarize", "input": f"long article {i} " * 20, "output": f"summary {i}"}
                for i in range(30)
            ]
        )
    )
    (folder / "chat.jsonl").write_text(
        "\n".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"question {i}"},
                        {"role": "assistant", "content": f"answer {i}"},
                    ]
                }
            )
            for i in range(30)
        )
    )
    (folder / "sharegpt.jsonl").write_text(
        "\n".join(
            json.dumps(
                {"conversations": [{"from": "human", "value": f"hi {i}"}, {"from": "gpt", "value": f"hello {i}"}]}
            )
            for i in range(30)
        )
    )
    (folder / "pc.jsonl").write_text(
        "\n".join(json.dumps({"prompt": f"Translate: cat {i}", "completion": f"猫 {i}"}) for i in range(30))
    )
    (folder / "extract.tsv").write_text(
        "text\toutput\n"
        + "".join(
            f'Invoice {i} from ACME dated 2024-01-{i % 28 + 1:02d}\t{{"vendor": "ACME", "n": {i}}}\n' for i in range(30)
        )
    )
    (folder / "broken.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{"prompt": oops}\n')
    (folder / "empty.csv").write_text("")
    (folder / "one_column.csv").write_text("text\nhello\nworld\n")
    # More formats and encodings.
    (folder / "faq_bom.csv").write_bytes(
        (
            "question,answer\n"
            + "".join(f"How do I reset password {i}?,Open settings and choose reset ({i}).\n" for i in range(40))
        ).encode("utf-8-sig")
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    topics = ["sports", "politics", "tech"]
    pq.write_table(
        pa.table(
            {
                "id": list(range(45)),
                "headline": [f"headline {i} about {topics[i % 3]} news" for i in range(45)],
                "category": [topics[i % 3] for i in range(45)],
            }
        ),
        folder / "headlines.parquet",
    )
    (folder / "articles.json").write_text(
        json.dumps(
            [
                {
                    "article": f"The council met on day {i} and debated the budget at length. " * 6,
                    "summary": f"Council debated budget, day {i}.",
                }
                for i in range(40)
            ]
        )
    )
    (folder / "zh_summary.jsonl").write_text(
        "\n".join(
            json.dumps(
                {
                    "原文": f"第{i}届科技大会今天在北京开幕，来自全国的专家讨论了人工智能的发展和应用前景。" * 3,
                    "摘要": f"第{i}届科技大会在京开幕。",
                },
                ensure_ascii=False,
            )
            for i in range(40)
        ),
        encoding="utf-8",
    )
    (folder / "zh_extract.csv").write_text(
        "文本,结果\n"
        + "".join(
            f'发票{i}：供应商华为，金额{100 + i}元,"{{""供应商"": ""华为"", ""金额"": {100 + i}}}"\n' for i in range(40)
        ),
        encoding="utf-8",
    )
    (folder / "code.json").write_text(
        json.dumps(
            [
                {
                    "instruction": f"Write a Python function that adds {i} to its argument",
                    "input": "",
                    "output": f"def add_{i}(x):\n    return x + {i}",
                }
                for i in range(40)
            ]
        )
    )
    (folder / "unnamed.csv").write_text(
        "a,b\n"
        + "".join(
            f"message {i} says {'buy now cheap pills' if i % 3 == 0 else 'see you at lunch'},"
            f"{'spam' if i % 3 == 0 else 'ham'}\n"
            for i in range(45)
        )
    )
    long_rows = [
        {"prompt": f"Ticket {i}: the printer on floor {i} is jammed again.", "completion": f"Printer jam, floor {i}."}
        for i in range(39)
    ]
    long_rows.append(
        {
            "prompt": "Ticket 99: " + "everything is broken and nobody answers the phone. " * 60,
            "completion": "Customer reports a total outage.",
        }
    )
    (folder / "tickets.jsonl").write_text("\n".join(json.dumps(r) for r in long_rows))
    (folder / "bad_fields.csv").write_text("text,label\ngood row,positive\nthis row,has,too many,fields\n")
    (folder / "no_outputs.csv").write_text("text,label\nhello,\nworld,\nagain,\n")
