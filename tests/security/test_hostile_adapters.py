"""A corpus of hostile and broken adapter archives, made in code: each is refused with its reason, and the
registry and the disk are exactly as they were."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path

import pytest

from assistant.config import Home
from assistant.registry import Registry
from assistant.registry.manage import RegistryError, import_adapter
from assistant.registry.store import WEIGHTS
from helpers import peft_adapter, zip_of

pytestmark = pytest.mark.slow
CFG = "adapter_config.json"


@pytest.fixture(scope="module")
def good(tiny_model, tmp_path_factory) -> dict[str, bytes]:
    folder = peft_adapter(tiny_model, tmp_path_factory.mktemp("good") / "adapter", seed=9)
    return {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()}


def tensors(good: dict[str, bytes]) -> dict:
    from safetensors.torch import load

    return load(good[WEIGHTS])


def weights(t: dict) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in t.items()})


def with_config(good: dict[str, bytes], **changes) -> dict[str, bytes]:
    cfg = json.loads(good[CFG])
    cfg.update(changes)
    return {**good, CFG: json.dumps(cfg).encode()}


def with_tensors(good: dict[str, bytes], change) -> dict[str, bytes]:
    t = tensors(good)
    change(t)
    return {**good, WEIGHTS: weights(t)}


def first_key(t: dict, which: str = "A") -> str:
    return next(k for k in sorted(t) if f".lora_{which}." in k)


def lying_safetensors(good: dict[str, bytes]) -> bytes:
    """A safetensors file whose header says a tensor lies far past the end of the file."""
    raw = good[WEIGHTS]
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    key = next(k for k in header if k != "__metadata__")
    start = header[key]["data_offsets"][0]
    header[key]["data_offsets"] = [start, start + 10**9]
    new = json.dumps(header).encode()
    return struct.pack("<Q", len(new)) + new + raw[8 + n:]


def lying_zip(path: Path, good: dict[str, bytes]) -> Path:
    """A zip whose headers say adapter_config.json is 40 bytes when it unpacks to 3 MiB."""
    big = json.dumps({**json.loads(good[CFG]), "padding": " " * (3 * 1024**2)}).encode()
    zip_of(path, {**{k: v for k, v in good.items() if k != CFG}, CFG: big})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(CFG).header_offset
    data[local + 22:local + 26] = struct.pack("<I", 40)  # the local header's uncompressed size
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:  # the central directory's entry for it
        name_len = struct.unpack("<H", data[pos + 28:pos + 30])[0]
        if data[pos + 46:pos + 46 + name_len] == CFG.encode():
            data[pos + 24:pos + 28] = struct.pack("<I", 40)
        pos += 4
    path.write_bytes(bytes(data))
    return path


def symlink_zip(path: Path, good: dict[str, bytes]) -> Path:
    zip_of(path, good)
    with zipfile.ZipFile(path, "a") as z:
        info = zipfile.ZipInfo("link-to-etc")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    return path


def add_tensor(name, shape, value=0.0):
    import torch

    def change(t):
        t[name] = torch.full(shape, value)
    return change


def set_first(which, fn):
    def change(t):
        k = first_key(t, which)
        t[k] = fn(t[k])
    return change


def cases(good: dict[str, bytes], tmp: Path, tiny_model: Path):
    """(case, archive, reason regex, import keyword arguments) for every hostile or broken archive."""
    import torch

    z = lambda name, entries: zip_of(tmp / f"{name}.zip", entries)  # noqa: E731
    other = {k: v for k, v in good.items() if k != CFG}
    yield "traversal", z("traversal", {**good, "../../escaped.txt": b"owned"}), "outside the adapter folder", {}
    yield "absolute path", z("absolute", {**good, "/tmp/escaped-abs.txt": b"owned"}), "outside the adapter folder", {}
    yield "drive letter", z("drive", {**good, "C:/evil.txt": b"owned"}), "outside the adapter folder", {}
    yield "backslash traversal", z("backslash", {**good, "..\\..\\evil.txt": b"x"}), "outside the adapter folder", {}
    yield "symbolic link", symlink_zip(tmp / "link.zip", good), "symbolic link", {}
    yield "pickle weights", z("pickle", {**good, "adapter_model.bin": b"\x80\x04cos\nsystem\n."}), "pickle file", {}
    yield "torch pickle", z("pt", {**other, "weights.pt": b"\x80\x04."}), "pickle file", {}
    yield "numpy pickle", z("npy", {**good, "extra.npy": b"\x93NUMPY"}), "pickle file", {}
    yield "zip bomb", z("bomb", {**good, "padding.txt": b"\0" * (64 * 1024**2)}), "over the [0-9,]+-byte limit", {}
    yield (
        "config bomb",
        z("cfgbomb", {**other, CFG: json.dumps({**json.loads(good[CFG]), "x": " " * 2 * 1024**2}).encode()}),
        "adapter_config.json is [0-9,]+ bytes, over the 1,048,576-byte limit",
        {},
    )
    yield "lying sizes", lying_zip(tmp / "lying.zip", good), "cannot be unpacked|zip bomb|over the", {}
    yield (
        "too many entries",
        z("entries", {**good, **{f"f{i}.txt": b"x" for i in range(80)}}),
        "more than 64 entries",
        {},
    )
    yield "no config", z("nocfg", other), "no adapter_config.json", {}
    yield (
        "two adapters",
        z("two", {**{f"a/{k}": v for k, v in good.items()}, **{f"b/{k}": v for k, v in good.items()}}),
        "2 adapters inside",
        {},
    )
    yield "config not JSON", z("badjson", {**other, CFG: b"{not json"}), "does not parse", {}
    yield "config a list", z("cfglist", {**other, CFG: b"[1, 2]"}), "is not an object", {}
    yield "deep config", z("deep", {**other, CFG: b"[" * 100000 + b"]" * 100000}), "does not parse|not an object", {}
    yield "rank is a word", z("rword", with_config(good, r="four")), r"`r` must be a whole number", {}
    yield "rank negative", z("rneg", with_config(good, r=-4)), r"`r` must be a whole number", {}
    yield "rank huge", z("rhuge", with_config(good, r=10**9)), r"`r` must be a whole number", {}
    yield "targets a number", z("t123", with_config(good, target_modules=123)), "`target_modules` must be", {}
    yield "alpha a word", z("alpha", with_config(good, lora_alpha="x")), "`lora_alpha` must be", {}
    yield "dropout 5", z("dropout", with_config(good, lora_dropout=5)), "`lora_dropout` must be", {}
    yield "bias unknown", z("bias", with_config(good, bias="maybe")), "`bias` must be", {}
    yield "not LoRA", z("prefix", with_config(good, peft_type="PREFIX_TUNING")), "PREFIX_TUNING adapter", {}
    yield "bad rank pattern", z("rp", with_config(good, rank_pattern={"(": 4})), "not a valid pattern", {}
    yield (
        "targets absent layers",
        z("absent", with_config(good, target_modules=["nonexistent_proj"])),
        "does not have",
        {},
    )
    yield "config rank lies", z("rlie", with_config(good, r=8)), "rank 4 .* config says rank 8", {}
    yield (
        "A and B ranks differ",
        z("abrank", with_tensors(good, set_first("B", lambda b: torch.zeros(b.shape[0], 16)))),
        "lora_A of rank 4 and lora_B of rank 16",
        {},
    )
    yield "only lora_A", z("onlyA", with_tensors(good, lambda t: t.pop(first_key(t, "B")))), "lora_B missing", {}
    yield (
        "NaN weights",
        z("nan", with_tensors(good, set_first("A", lambda a: a.fill_(float("nan"))))),
        "NaN or infinite",
        {},
    )
    yield (
        "inf weights",
        z("inf", with_tensors(good, set_first("B", lambda b: b.fill_(float("inf"))))),
        "NaN or infinite",
        {},
    )
    yield (
        "3-D factor",
        z("3d", with_tensors(good, set_first("A", lambda a: a.reshape(1, *a.shape)))),
        "dimensions|has shape",
        {},
    )
    yield (
        "layer the base lacks",
        z(
            "lack",
            with_tensors(good, add_tensor("base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight", (4, 64))),
        ),
        "which .* does not have",
        {},
    )
    yield (
        "stray tensor",
        z("stray", with_tensors(good, add_tensor("base_model.model.evil.weight", (2, 2)))),
        "neither a LoRA factor nor a module the config saves",
        {},
    )
    yield (
        "saved module wrong shape",
        z(
            "mts",
            {
                **with_config(
                    with_tensors(good, add_tensor("base_model.model.lm_head.modules_to_save.default.weight", (3, 3))),
                    modules_to_save=["lm_head"],
                )
            },
        ),
        "has shape \\[3, 3\\]",
        {},
    )
    yield "garbage weights", z("garbage", {**good, WEIGHTS: b"garbage bytes"}), "not a valid safetensors file", {}
    yield (
        "lying safetensors header",
        z("lyinghdr", {**good, WEIGHTS: lying_safetensors(good)}),
        "not a valid safetensors file|cannot be read",
        {},
    )
    yield (
        "no LoRA tensors",
        z("nolora", {**good, WEIGHTS: weights({"foo": torch.zeros(2)})}),
        "holds no LoRA tensors",
        {},
    )
    yield (
        "no weights",
        z("noweights", {k: v for k, v in good.items() if k != WEIGHTS}),
        "no adapter_model.safetensors",
        {},
    )
    yield (
        "unknown base",
        z("unknownbase", with_config(good, base_model_name_or_path="nobody/unknown-model")),
        "not on this machine",
        {"base_source": None},
    )
    yield "unusable name", z("badname", good), "not a usable adapter name", {"name": "///"}
    truncated = tmp / "truncated.zip"
    truncated.write_bytes(z("full", good).read_bytes()[:2000])
    yield "truncated zip", truncated, "not a zip file", {}
    text = tmp / "text.zip"
    text.write_bytes(b"just text")
    yield "not a zip", text, "not a zip file", {}


def snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_the_corpus_is_large_enough(good, tmp_path, tiny_model):
    assert len(list(cases(good, tmp_path, tiny_model))) >= 40


def test_every_hostile_archive_is_refused_and_nothing_changes(good, tmp_path, tiny_model):
    reg = Registry(Home.resolve())
    before = snapshot(reg.home.root)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    failures = []
    for case, archive, reason, kwargs in cases(good, corpus, tiny_model):
        kwargs = {"base_source": str(tiny_model), **kwargs}
        try:
            rec = import_adapter(reg, archive, **kwargs)
            failures.append(f"{case}: accepted as {rec.name}:{rec.version}")
        except RegistryError as e:
            if not re.search(reason, str(e)):
                failures.append(f"{case}: refused for another reason: {e}")
        except Exception as e:  # noqa: BLE001 - any other exception is a crash, which is the bug
            failures.append(f"{case}: crashed with {type(e).__name__}: {e}")
        assert reg.count_adapters() == 0, case
        assert snapshot(reg.home.root) == before, f"{case}: the refused import left files behind"
    assert not failures, "\n".join(failures)
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped-abs.txt").exists()


def test_the_good_archive_of_the_corpus_imports(good, tmp_path, tiny_model):
    """The corpus's baseline is honest: the unmodified adapter is accepted, so each refusal is the change's."""
    reg = Registry(Home.resolve())
    rec = import_adapter(reg, zip_of(tmp_path / "good.zip", good), base_source=str(tiny_model))
    assert rec.version == 1 and (reg.home.root / rec.path / WEIGHTS).exists()


def test_an_imported_adapters_plan_cannot_make_tailor_read_a_file_of_this_machine(good, tmp_path, tiny_model):
    """An adapter's plan.json travels with it, and names a data file. For an adapter trained here that file is the
    user's; for an imported one it is whatever the archive's author wrote — say a private file on this machine,
    without a fingerprint. Evaluating the imported adapter "on its held-out rows" would show that file's rows on
    the page (prompts and references), and the trained-on check would read it. Both refuse or pass it over."""
    from assistant.chat import converse
    from assistant.evaluate.run import EvalError, evaluate_adapters
    from assistant.serve.engine import Engine
    from helpers import write_classification_csv

    private = write_classification_csv(tmp_path / "private.csv")
    plan = converse(["classify these texts by topic"], str(private), default_base_model=str(tiny_model)).plan
    plan.data.sha256 = None  # no fingerprint to check the file against
    reg = Registry(Home.resolve())
    rec = import_adapter(reg, zip_of(tmp_path / "hostile.zip", {**good, "plan.json": plan.to_json().encode()}),
                         base_source=str(tiny_model))
    engine = Engine(reg, str(tiny_model))
    engine.start().result()
    with pytest.raises(EvalError, match=f"{rec.label} was imported: its plan's data file is not one this machine "
                                        "trained it on; upload an eval file"):
        evaluate_adapters(engine, reg, [rec.label], max_new_tokens=2)
    evaluated = tmp_path / "eval.csv"
    evaluated.write_text(private.read_text(encoding="utf-8"), encoding="utf-8")  # its rows, in an eval file
    run = evaluate_adapters(engine, reg, [rec.label], data=str(evaluated), limit=4, max_new_tokens=2)
    assert "trained_on" not in run, "the imported plan's data file was read"
