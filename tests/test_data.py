import json

import pytest

from assistant.data import DataError, inspect_file, read_rows


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_csv_columns_are_mapped_by_name(tmp_path):
    p = write(tmp_path, "r.csv", "id,review,sentiment\n1,great,positive\n2,bad,negative\n3,fine,positive\n")
    r = inspect_file(p)
    assert (r.format, r.input_columns, r.output_column) == ("columns", ["review"], "sentiment")
    assert r.labels == {"positive": 2, "negative": 1}


def test_chinese_headers_in_gbk_are_read(tmp_path):
    rows = "".join(f"这个产品非常好用{i},正面\n这个东西质量太差{i},负面\n" for i in range(5))
    p = write(tmp_path, "zh.csv", "评论,标签\n" + rows, encoding="gbk")
    r = inspect_file(p)
    assert (r.input_columns, r.output_column, r.language) == (["评论"], "标签", "zh")


@pytest.mark.parametrize("texts, language", [
    (["この商品はとても良いです", "品質が悪くてがっかりしました"], "ja"),  # Kanji too, but kana: not Chinese
    (["这个产品很好，推荐", "质量很差，失望"], "zh"),
    (["이 제품은 정말 좋아요", "품질이 나빠요"], "ko"),
    (["Этот товар очень хороший", "Качество плохое"], "ru"),
    (["Le produit est très bien et je le recommande", "Ce n'est pas solide du tout pour le prix"], "fr"),
    (["Das Produkt ist sehr gut und nicht teuer", "Die Qualität ist nicht gut"], "de"),
    (["El producto es muy bueno para la familia", "La calidad no es buena y es caro"], "es"),
    (["The product is great and I love it", "It was not good for the price"], "en"),
    (["Invoice 12 from ACME dated 2024-01-01", "ok"], "en"),  # no common words: English, the default
])
def test_the_data_language_is_read_from_its_script_and_its_common_words(tmp_path, texts, language):
    """Japanese reviews were read as Chinese (their Kanji) and French ones as English, so a plan picked a model that
    does not know them (Llama for Japanese; the English-only SmolLM2 on a CPU without a word about it)."""
    rows = "".join(f"\"{t} {i}\",{'a' if i % 2 else 'b'}\n" for i in range(10) for t in texts)
    assert inspect_file(write(tmp_path, "r.csv", "text,label\n" + rows)).language == language


def test_utf8_bom_is_stripped_from_the_first_header(tmp_path):
    p = write(tmp_path, "bom.csv", "\ufefftext,label\nhello,a\nbye,b\n")
    assert inspect_file(p).input_columns == ["text"]


def test_label_column_found_from_values_when_names_say_nothing(tmp_path):
    body = "".join(f"some long sentence number {i} here,{'yes' if i % 2 else 'no'}\n" for i in range(20))
    p = write(tmp_path, "x.csv", "a,b\n" + body)
    r = inspect_file(p)
    assert (r.input_columns, r.output_column) == (["a"], "b")


@pytest.mark.parametrize("rows, fmt", [
    ([{"instruction": "Add", "input": "1+1", "output": "2"}], "alpaca"),
    ([{"prompt": "Hi", "completion": "Hello"}], "prompt_completion"),
    ([{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}], "messages"),
    ([{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}], "sharegpt"),
])
def test_formats_are_detected(tmp_path, rows, fmt):
    p = write(tmp_path, "d.jsonl", "\n".join(json.dumps(r) for r in rows * 2))  # one row is refused as too few
    assert inspect_file(p).format == fmt


def test_json_list_and_parquet_are_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = write(tmp_path, "d.json", json.dumps([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]))
    assert len(read_rows(p)) == 2
    pq.write_table(pa.table({"text": ["a", "b"], "label": ["x", "y"]}), tmp_path / "d.parquet")
    assert inspect_file(tmp_path / "d.parquet").output_column == "label"


def test_a_folder_is_refused_by_name(tmp_path):
    (tmp_path / "reviews.csv").mkdir()  # a folder named like a file: "Is a directory" was all it said
    with pytest.raises(DataError, match=r"reviews.csv: is a folder, not a file"):
        inspect_file(tmp_path / "reviews.csv")


def test_empty_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="empty"):
        inspect_file(write(tmp_path, "e.csv", ""))


def test_malformed_jsonl_names_the_line(tmp_path):
    p = write(tmp_path, "bad.jsonl", '{"prompt": "a", "completion": "b"}\n\n{"prompt": "c", "completion": }\n')
    with pytest.raises(DataError) as e:
        inspect_file(p)
    assert e.value.line == 3 and "bad.jsonl, line 3" in str(e.value)


def test_csv_row_with_wrong_field_count_names_the_line(tmp_path):
    p = write(tmp_path, "bad.csv", "text,label\nfine,a\nbroken,a,extra\n")
    with pytest.raises(DataError, match="line 3"):
        inspect_file(p)


def test_file_without_usable_text_column_is_refused(tmp_path):
    p = write(tmp_path, "n.csv", "text\nhello\nworld\n")
    with pytest.raises(DataError, match="no usable text column"):
        inspect_file(p)


def test_all_empty_outputs_are_refused(tmp_path):
    p = write(tmp_path, "o.jsonl", '{"prompt": "a", "completion": ""}\n{"prompt": "b", "completion": ""}\n')
    with pytest.raises(DataError, match="empty output"):
        inspect_file(p)


def test_warnings_for_duplicates_and_tiny_classes(tmp_path):
    p = write(tmp_path, "w.csv", "text,label\n" + "same,a\n" * 6 + "other,b\n")
    r = inspect_file(p)
    assert any("duplicate" in w for w in r.warnings)
    assert any("tiny classes" in w and "b" in w for w in r.warnings)


def test_labels_one_spelling_apart_are_flagged_not_merged(tmp_path):
    """`pos` and `Pos` (or `very good` and `Very  good`) are two answers to the model, and to exact-match scoring:
    said, with their counts; the labels stay as written (a case can matter)."""
    spellings = ["pos", "Pos", "neg", "very good", "Very  good", "neg"]
    p = write(tmp_path, "v.csv", "text,label\n" + "".join(f"review {i},{spellings[i % 6]}\n" for i in range(60)))
    r = inspect_file(p)
    assert set(r.labels) == {"pos", "Pos", "neg", "very good", "Very  good"}
    said = [w for w in r.warnings if "differ only in capitals or spacing" in w]
    assert said == ["labels that differ only in capitals or spacing are different answers to the model: 'pos' (10 "
                    "rows) / 'Pos' (10 rows); 'very good' (10 rows) / 'Very  good' (10 rows). Write each class one "
                    "way if they mean the same"]
    p = write(tmp_path, "ok.csv", "text,label\n" + "".join(f"review {i},{['pos', 'neg'][i % 2]}\n" for i in range(60)))
    assert not any("capitals" in w for w in inspect_file(p).warnings)


def test_conversations_that_go_on_after_their_last_answer_say_what_is_left_out(tmp_path):
    """A conversation trains its last assistant turn; user turns after it have no answer to learn and are left
    out — said, with how many rows and the first, instead of silently."""
    rows = [{"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
             + ([{"role": "user", "content": "thanks"}] if i % 3 == 1 else [])} for i in range(30)]
    p = write(tmp_path, "chat.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    r = inspect_file(p)
    assert r.rows == 30 and "10 conversations go on after their last assistant turn (first: row 2); the turns " \
        "after it are left out, since nothing answers them" in r.warnings
    assert all(e["completion"] == f"answer {i}" and e["prompt"][-1]["content"] == f"question {i}"
               for i, e in enumerate(r.examples))


def test_tool_calling_conversations_keep_their_roles_and_tools(tmp_path):
    """LLaMA-Factory's sharegpt tool format: function_call is the assistant's, observation is the tool's, and
    the row's `tools` list tells the model what it may call — none of it read as the user's words."""
    from assistant.chat import converse
    from assistant.data import chat_examples

    call = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    tools = '[{"name": "get_weather", "parameters": {"city": "string"}}]'
    rows = [{"conversations": [{"from": "human", "value": f"Weather in city {i}?"},
                               {"from": "function_call", "value": call},
                               {"from": "observation", "value": json.dumps({"temp": i})},
                               {"from": "gpt", "value": f"It is {i} degrees."}], "tools": tools} for i in range(30)]
    p = tmp_path / "glaive.json"
    p.write_text(json.dumps(rows))
    report = inspect_file(p)
    assert report.format == "sharegpt" and any("30 conversations call tools" in w for w in report.warnings)
    assert not any("not known" in w for w in report.warnings)
    plan = converse(["train a chat assistant that calls tools"], str(p)).plan
    first = chat_examples(plan)[0]
    assert [m["role"] for m in first["prompt"]] == ["system", "user", "assistant", "tool"]
    assert tools in first["prompt"][0]["content"] and first["prompt"][2]["content"] == call
    assert first["completion"] == [{"role": "assistant", "content": "It is 0 degrees."}]


def test_an_excel_sheet_is_read_by_its_header_row(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([])  # a blank first row, as spreadsheets often have
    sheet.append(["评论", "情感"])
    for i in range(40):
        sheet.append([f"第{i}条评论，{'很好' if i % 2 else '太差'}", "正面" if i % 2 else "负面"])
    book.save(tmp_path / "reviews.xlsx")
    report = inspect_file(tmp_path / "reviews.xlsx")
    assert report.rows == 40 and report.input_columns == ["评论"] and report.output_column == "情感"
    assert set(report.labels) == {"正面", "负面"} and report.language == "zh"


def test_a_table_without_a_header_row_keeps_its_first_example_and_says_so(tmp_path):
    """A CSV, TSV or sheet whose first row is an example, not column names: the first row was taken for the header
    — its example lost, the columns named by its text. A cell of that row that its column holds as a value in two
    or more other rows (a label) shows it is data: it is read as the first row, the columns are `column 1`, … and
    the report says so. A header whose name appears once among the values stays a header."""
    import openpyxl

    examples = [(f"the delivery was {'quick' if i % 2 else 'slow'} this time {i}", "pos" if i % 2 else "neg")
                for i in range(30)]
    csv_text = "".join(f"{t},{lab}\n" for t, lab in examples)
    book = openpyxl.Workbook()
    for row in examples:
        book.active.append(list(row))
    book.save(tmp_path / "sheet.xlsx")
    for path in (write(tmp_path, "plain.csv", csv_text), write(tmp_path, "plain.tsv", csv_text.replace(",", "\t")),
                 tmp_path / "sheet.xlsx"):
        rows = read_rows(path)
        assert len(rows) == 30 and rows[0] == {"column 1": examples[0][0], "column 2": "neg"}, path
        assert rows[1] == {"column 1": examples[1][0], "column 2": "pos"}
        r = inspect_file(path)
        assert (r.rows, r.input_columns, r.output_column, r.labels) == (30, ["column 1"], "column 2",
                                                                        {"neg": 15, "pos": 15})
        assert any("the first row looks like data, not column names (`neg` is the value of its column in 14 other "
                   "rows)" in w for w in r.warnings), r.warnings
    # pandas' names for unnamed columns over a 0/1 label column are a header, not an example.
    p = write(tmp_path, "frame.csv", "0,1\n" + "".join(f"{t},{i % 2}\n" for i, (t, _) in enumerate(examples)))
    rows = read_rows(p)
    assert len(rows) == 30 and set(rows[0]) == {"0", "1"} and rows.notes == []
    # A real header stays one, even when a name turns up once as a value.
    p = write(tmp_path, "named.csv", "text,label\n" + csv_text + "a row about labels,label\n")
    rows = read_rows(p)
    assert len(rows) == 31 and set(rows[0]) == {"text", "label"} and rows.notes == []
    assert not any("first row" in w for w in inspect_file(p).warnings)


def test_a_workbook_of_several_sheets_reads_the_first_with_rows_and_names_the_others(tmp_path):
    """A cover sheet with a title and no table before the data is passed over; the sheets not read are named, so
    rows on a second data sheet are not lost without a word."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "About"
    book.active.append(["Customer reviews, exported 2026-11"])  # a title line: a header with no rows under it
    data = book.create_sheet("Reviews")
    data.append(["review", "sentiment"])
    for i in range(40):
        data.append([f"review number {i} of the product", "positive" if i % 2 else "negative"])
    book.create_sheet("Reviews 2024").append(["review", "sentiment"])
    book.save(tmp_path / "book.xlsx")
    r = inspect_file(tmp_path / "book.xlsx")
    assert (r.rows, r.input_columns, r.output_column) == (40, ["review"], "sentiment")
    assert "this workbook has 3 sheets: 'Reviews' was read (the first that holds rows), not 'About', 'Reviews " \
        "2024'; put every row on one sheet, or export each sheet you need as CSV" in r.warnings
    one = openpyxl.Workbook()  # one sheet: nothing to say
    one.active.append(["review", "sentiment"])
    for i in range(40):
        one.active.append([f"review {i}", "positive" if i % 2 else "negative"])
    one.save(tmp_path / "one.xlsx")
    assert read_rows(tmp_path / "one.xlsx").notes == []


def test_one_txt_file_per_class_becomes_a_labelled_table(tmp_path):
    from assistant.data.load import combine_class_files

    (tmp_path / "positive.txt").write_text("great phone\n\nlove it\nworks well\n", encoding="utf-8")
    (tmp_path / "negative.txt").write_text("broke in a day\nawful\n".encode("gbk").decode("gbk"), encoding="gbk")
    combined = combine_class_files([tmp_path / "positive.txt", tmp_path / "negative.txt"], tmp_path / "uploads")
    assert combined == combine_class_files([tmp_path / "positive.txt", tmp_path / "negative.txt"], tmp_path / "uploads")
    report = inspect_file(combined)
    assert report.rows == 5 and report.labels == {"positive": 3, "negative": 2}
    with pytest.raises(DataError, match="a .txt file is one example per line"):
        inspect_file(tmp_path / "positive.txt")
    with pytest.raises(DataError, match="every file names the same class"):
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "positive.txt").write_text("fine\n")
        combine_class_files([tmp_path / "positive.txt", tmp_path / "b" / "positive.txt"], tmp_path / "uploads")


def test_template_placeholders_left_in_answers_are_flagged(tmp_path):
    """LLaMA-Factory's identity.json holds {{name}} and {{author}} to be filled in before training."""
    rows = [{"instruction": f"who are you? ({i})", "input": "",
             "output": "I am {{name}}, an AI assistant developed by {{author}}."} for i in range(20)]
    p = tmp_path / "identity.json"
    p.write_text(json.dumps(rows))
    warnings = inspect_file(p).warnings
    assert any(w.startswith("answers hold template placeholders: {{name}} (20 rows), {{author}} (20 rows)")
               for w in warnings), warnings


def test_conversations_of_several_answers_say_every_answer_is_trained(tmp_path):
    """A conversation's earlier assistant turns are trained too (train/turns.py): the plan says how many
    conversations and answers; a greeting before the user spoke and an empty answer are not counted."""
    two = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"},
                         {"role": "user", "content": "and?"}, {"role": "assistant", "content": f"b{i}"}]}
           for i in range(6)]
    greeted = [{"messages": [{"role": "assistant", "content": "Hi!"}, {"role": "user", "content": f"q{i}"},
                             {"role": "assistant", "content": ""}, {"role": "user", "content": "?"},
                             {"role": "assistant", "content": f"c{i}"}]} for i in range(4)]
    p = write(tmp_path, "chat.jsonl", "".join(json.dumps(r) + "\n" for r in two + greeted))
    r = inspect_file(p)
    assert "6 conversations have more than one assistant turn (12 answers): every answer is trained, each with " \
        "the turns before it as its context; the held-out evaluation scores each conversation's last answer" \
        in r.warnings
    assert [e["completion"] for e in r.examples] == [f"b{i}" for i in range(6)] + [f"c{i}" for i in range(4)]


def test_a_plan_trains_and_holds_out_rows_only_from_the_file_it_was_made_from(topic_csv, tiny_model):
    """A data file edited after planning would train on rows the plan was not sized for, register a fingerprint
    that is not the data's, and give a held-out split that can hold rows the adapter trained on: queueing
    refuses it at once (nothing queued), a job queued before the edit fails before loading the model, and the
    adapter's held-out evaluation asks for an eval file. A file gone is refused with where it was looked for."""
    from assistant.config import Home
    from assistant.data import DataError
    from assistant.evaluate.run import EvalError, held_out
    from assistant.registry import Registry
    from assistant.train import jobs, worker
    from helpers import make_plan

    plan = make_plan(topic_csv, tiny_model, max_steps=1)
    reg = Registry(Home.resolve(None))
    assert held_out(plan)
    job = jobs.submit(reg, plan, start=False)
    topic_csv.write_bytes(topic_csv.read_bytes() + b"one more row about football,sports\n")
    with pytest.raises(DataError, match=r"^topics.csv: the file has changed since the plan was made \(its sha256 "
                                        r"is not the plan's [0-9a-f]{12}…\): make the plan again"):
        jobs.submit(reg, plan, start=False)
    assert [j.id for j in reg.jobs()] == [job]
    assert worker.run_job(reg.home, job) == "failed"
    failed = reg.job(job)
    assert failed.failure == "bad_data" and "the file has changed since the plan was made" in failed.error
    assert not any("base model" in line for line in reg.logs(job)), "refused before the model was loaded"
    with pytest.raises(EvalError, match="has changed since this adapter was trained, so its held-out rows cannot "
                                        "be told apart from the rows it learned: upload an eval file"):
        held_out(plan)
    topic_csv.unlink()
    with pytest.raises(DataError, match=rf"^topics.csv: file not found \({topic_csv}\)$"):
        jobs.submit(reg, plan, start=False)


def test_a_relative_data_path_is_read_where_the_command_ran_or_beside_the_plan(topic_csv, tiny_model, tmp_path,
                                                                             monkeypatch):
    """`tailor plan --data FILE` writes the file's absolute path; a relative one (a plan written by hand, or
    elsewhere) is found from the command's folder, then the plan file's, not from the data home where the worker
    runs; found nowhere, queueing says where it looked."""
    import subprocess
    import sys
    from pathlib import Path

    from assistant.config import Home
    from assistant.data import DataError
    from assistant.registry import Registry
    from assistant.train import jobs
    from helpers import make_plan

    plan = make_plan(topic_csv, tiny_model)
    plan.data.path = topic_csv.name
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    jobs.locate_data(plan, Path.cwd(), topic_csv.parent)
    assert plan.data.path == str(topic_csv.resolve())
    plan.data.path = topic_csv.name
    jobs.locate_data(plan, Path.cwd())
    assert plan.data.path == topic_csv.name
    reg = Registry(Home.resolve(None))
    with pytest.raises(DataError, match=rf"file not found \({reg.home.root / topic_csv.name}\)"):
        jobs.submit(reg, plan, start=False)
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "plan", "--json", "--data", topic_csv.name,
                          "classify these texts by topic"], cwd=topic_csv.parent, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["plan"]["data"]["path"] == str(topic_csv.resolve())


def test_the_planners_split_keeps_the_rows_of_one_input_on_one_side(tmp_path):
    """A row the data repeats (12 copies) goes wholly to training or wholly to the held-out rows in the planner's
    plans; labels keep their shares; the split is the same every time. A plan without `group_inputs` (made before
    it, or by hand) loads as one and splits row by row, as its job did."""
    from collections import Counter

    from assistant.chat import converse
    from assistant.data import chat_examples
    from assistant.data.prepare import held_out_split, input_key, split_examples
    from assistant.plan import Plan

    rows = [f"item {i} about {['rain', 'goal'][i % 2]},{['weather', 'sports'][i % 2]}" for i in range(100)]
    rows += ["the goal and the team,sports"] * 12 + ["sunny and warm,weather"] * 3
    p = write(tmp_path, "t.csv", "text,label\n" + "\n".join(rows) + "\n")
    plan = converse(["classify these texts by topic"], str(p)).plan
    assert plan.data.group_inputs and plan.data.stratify and plan.data.validation_fraction == 0.1
    examples = chat_examples(plan)
    for seed in range(20):  # wherever the seed puts the repeated rows, they are together
        plan.data.split_seed = seed
        train, held = held_out_split(examples, plan.data)
        assert not {input_key(e["prompt"]) for e in train} & {input_key(e["prompt"]) for e in held}
        assert len(train) + len(held) == 115 and 5 <= len(held) <= 13
        assert set(Counter(e["completion"][0]["content"] for e in held)) == {"weather", "sports"}
        assert held_out_split(examples, plan.data) == (train, held)
    big = [{"prompt": [{"role": "user", "content": f"sky {i // 6}"}], "completion": [{"role": "assistant",
            "content": "weather"}]} for i in range(12)]  # a label of two inputs, six rows each
    big += [{"prompt": [{"role": "user", "content": f"match {i}"}], "completion": [{"role": "assistant",
             "content": "sports"}]} for i in range(100)]
    train, held = split_examples(big, 0.1, 0, True, group=True)
    said = Counter(e["completion"][0]["content"] for e in held)
    assert said["weather"] == 6 and 8 <= said["sports"] <= 10, "a label whose groups outgrow its share gives one"
    assert not {input_key(e["prompt"]) for e in train} & {input_key(e["prompt"]) for e in held}
    old = plan.to_dict()
    del old["data"]["group_inputs"]
    legacy = Plan.from_dict(old)
    assert legacy.data.group_inputs is False
    leaked = 0
    for seed in range(20):  # row by row, as before: the repeats land on both sides for some seeds
        legacy.data.split_seed = seed
        train, held = held_out_split(examples, legacy.data)
        assert (train, held) == split_examples(examples, 0.1, seed, True)
        leaked += bool({input_key(e["prompt"]) for e in train} & {input_key(e["prompt"]) for e in held})
    assert leaked
