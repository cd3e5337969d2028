#!/usr/bin/env bash
# lm-evaluation-harness against Tailor's API, checked against the harness's own transformers backend on the same
# model: a 12-question multiple-choice task (log-likelihoods, through /v1/completions with `echo` and the
# tokenizer routes) and the same questions answered freely (generate_until). Every log-likelihood the harness got
# from Tailor is compared with the one its `hf` backend computes in this process's transformers.
#
#   bash bench/lm_eval_check.sh        # lm-eval in /tmp/tailor-lmeval (about 800 MB), the embedded SmolLM2
#
# Needs `make run`'s set-up (the embedded model converted into ./models). The server runs on a fresh data home
# (no API key) on port 7879.
set -euo pipefail
cd "$(dirname "$0")/.."
V=${TAILOR_LMEVAL_VENV:-/tmp/tailor-lmeval}
MODEL=$PWD/models/SmolLM2-135M-Instruct
[ -f "$MODEL/config.json" ] || { echo "no $MODEL: run 'make run' once first (it converts the embedded model)"; exit 2; }
[ -x "$V/bin/lm_eval" ] || { python3 -m venv "$V" && "$V/bin/pip" install -q "lm-eval[api]==0.4.13"; }
W=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$W"' EXIT
.venv/bin/python - "$W" <<'EOF'
import json, sys
from pathlib import Path
w = Path(sys.argv[1])
rows = [("France", "Paris", ["Paris", "Lyon", "Nice", "Lille"]), ("Japan", "Tokyo", ["Tokyo", "Osaka", "Kyoto", "Nagoya"]),
        ("Italy", "Rome", ["Milan", "Rome", "Naples", "Turin"]), ("Germany", "Berlin", ["Munich", "Hamburg", "Berlin", "Cologne"]),
        ("Spain", "Madrid", ["Barcelona", "Seville", "Valencia", "Madrid"]), ("Canada", "Ottawa", ["Toronto", "Ottawa", "Montreal", "Vancouver"]),
        ("Egypt", "Cairo", ["Cairo", "Giza", "Luxor", "Aswan"]), ("Russia", "Moscow", ["Kazan", "Moscow", "Omsk", "Sochi"]),
        ("China", "Beijing", ["Shanghai", "Beijing", "Wuhan", "Xi'an"]), ("Brazil", "Brasília", ["Rio de Janeiro", "São Paulo", "Brasília", "Salvador"]),
        ("Kenya", "Nairobi", ["Mombasa", "Nairobi", "Kisumu", "Nakuru"]), ("Peru", "Lima", ["Cusco", "Lima", "Arequipa", "Trujillo"])]
with open(w / "capitals.jsonl", "w") as f:
    for country, answer, choices in rows:
        f.write(json.dumps({"question": f"The capital of {country} is", "choices": choices, "answer": choices.index(answer)}) + "\n")
common = f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {w}/capitals.jsonl\ntest_split: test\ndoc_to_text: \"{{{{question}}}}\"\n"
(w / "capitals.yaml").write_text("task: capitals\n" + common + "output_type: multiple_choice\ndoc_to_choice: \"{{choices}}\"\n"
                                 "doc_to_target: answer\ntarget_delimiter: \" \"\nmetric_list:\n  - metric: acc\n")
(w / "capitals_gen.yaml").write_text("task: capitals_gen\n" + common + """output_type: generate_until
doc_to_target: "{{choices[answer]}}"
generation_kwargs:
  until: ["\\n", "."]
  max_gen_toks: 8
  do_sample: false
filter_list:
  - name: strip
    filter:
      - function: regex
        regex_pattern: "\\\\s*(.*)"
      - function: take_first
metric_list:
  - metric: exact_match
    ignore_case: true
    ignore_punctuation: true
""")
EOF
.venv/bin/tailor --home "$W/home" serve --api-only --port 7879 --base-model "$MODEL" > "$W/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 120); do curl -sf localhost:7879/v1/models > /dev/null && break; sleep 1; done
# lm-eval's own packages after this venv's (torch, transformers): its `hf` backend runs on Tailor's versions.
harness() { .venv/bin/python -c "import sys; sys.path.append(sys.argv.pop(1)); from lm_eval.__main__ import cli_evaluate; cli_evaluate()" \
  "$("$V/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" "$@" --include_path "$W" --batch_size 16 --log_samples; }
time harness --model local-completions --model_args "model=SmolLM2-135M-Instruct,base_url=http://127.0.0.1:7879/v1/completions,num_concurrent=1" \
  --tasks capitals,capitals_gen --output_path "$W/api" 2>&1 | grep -E "^\||remote tokenizer"
harness --model hf --model_args "pretrained=$MODEL,dtype=float32" --device cpu --tasks capitals --output_path "$W/hf" 2>&1 | grep -E "^\|"
.venv/bin/python - "$W" <<'EOF'
import glob, json, sys
def loglikelihoods(folder):
    path = glob.glob(f"{folder}/*/samples_capitals_2*.jsonl")[0]
    return {r["doc_id"]: [float(x[0][0]) for x in r["resps"]] for r in map(json.loads, open(path))}
api, hf = loglikelihoods(sys.argv[1] + "/api"), loglikelihoods(sys.argv[1] + "/hf")
gaps = [abs(a - b) for d in hf for a, b in zip(api[d], hf[d])]
print(f"{len(gaps)} log-likelihoods through Tailor's API vs lm-eval's hf backend: largest difference {max(gaps):.2e}")
EOF
