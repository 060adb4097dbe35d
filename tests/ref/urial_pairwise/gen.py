#!/usr/bin/env python3
"""A small recorded pairwise run in the URIAL authors' format, and the numbers their
evaluation arithmetic gives on it; for tests/cli/test_eval.sh (no Python at test time).

What their evaluate/eval.py does (Re-Align/URIAL), restated: random.seed(42) once,
then for each item of the model's outputs, in order, random.random() < 0.5 shows the
model's output as A (else the reference's), the template's {$instruction},
{$candidate_A}, {$candidate_B} replaced in that order, and the record keeps
"assignment" ({"A": generator shown as A, "B": ...}). Their show_table.py then counts,
over records with a parsed_result: per aspect, "tie", the model's letter (win) or
the reference's letter (lose), rates = count / (win + tie + lose) * 100, and the mean
length in characters (Python len) of the model's and the reference's outputs.

Writes, beside this script: a.json (model), b.json (reference), records.json (the
judged records: the prompts and the answers a judge gave, so the replay judge can
serve them; the last item is left unjudged, as in a run cut short) and expected.json.
Run: python3 tests/ref/urial_pairwise/gen.py ../shared/fixtures/just-eval/templates/pairwise_urial.md
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ASPECTS = ["helpfulness", "factuality", "depth", "engagement", "clarity", "safety"]
ORDER = ["engagement", "clarity", "helpfulness", "factuality", "depth", "safety"]  # the template's example
MODEL, REF = "Llama-2-7b-urial", "Llama-2-7b-chat-hf"

template = open(sys.argv[1]).read()

items = []
for i in range(12):
    instruction = f"Question {i}: how would you explain topic number {i} to a friend?"
    model = f"Model answer {i}: " + "a fairly long explanation " * (i % 4 + 1) + ("café ☕" if i % 3 == 0 else "")
    ref = f"Reference answer {i}: " + "short. " * (i % 5 + 1) + ("naïve" if i % 4 == 1 else "")
    items.append((i, instruction, model, ref))

# the verdict from the model's side, per item and aspect: +1 better, 0 tie, -1 worse
def verdict(i, a):
    return [1, 0, -1, 1, 1, 0, -1][(i * 3 + a * 2) % 7]

random.seed(42)
a_file, b_file, records = [], [], []
for i, instruction, model, ref in items:
    a_file.append({"id": i, "instruction": instruction, "output": model, "generator": MODEL})
    b_file.append({"id": i, "instruction": instruction, "output": ref, "generator": REF})
    model_first = random.random() < 0.5
    A, B = (model, ref) if model_first else (ref, model)
    prompt = template.replace("{$instruction}", instruction).replace("{$candidate_A}", A).replace("{$candidate_B}", B)
    rec = {"input": instruction, "model_output": [model] if i == 5 else model, "ref_output": ref,
           "generator": MODEL, "ref_generator": REF,
           "eval_config": {"mode": "pairwise", "gpt": "gpt-4-1106-preview", "max_words": -1},
           "assignment": {"A": MODEL, "B": REF} if model_first else {"A": REF, "B": MODEL},
           "prompt": prompt, "result": "N/A"}
    if i < 11:
        mine, theirs = ("A", "B") if model_first else ("B", "A")
        choices = {}
        for name in ORDER:
            v = verdict(i, ASPECTS.index(name))
            choices[name] = mine if v > 0 else theirs if v < 0 else "tie"
        parsed = {"rationale": f"Item {i}: compared on each aspect.", "choices": choices}
        rec["result"] = "```\n" + json.dumps(parsed, indent=2) + "\n```"
        rec["parsed_result"] = parsed
    records.append(rec)

# show_table.py's arithmetic over the records
win = {a: 0 for a in ASPECTS}
tie = {a: 0 for a in ASPECTS}
lose = {a: 0 for a in ASPECTS}
mlen, rlen = [], []
for rec in records:
    mine = "B" if rec["assignment"]["A"] == REF else "A"
    theirs = "A" if mine == "B" else "B"
    if "parsed_result" not in rec:
        continue
    for a in ASPECTS:
        c = rec["parsed_result"]["choices"][a]
        if c == "tie":
            tie[a] += 1
        elif c == mine:
            win[a] += 1
        elif c == theirs:
            lose[a] += 1
    mo = rec["model_output"] if isinstance(rec["model_output"], str) else rec["model_output"][0]
    ro = rec["ref_output"] if isinstance(rec["ref_output"], str) else rec["ref_output"][0]
    mlen.append(len(mo))
    rlen.append(len(ro))
rates = {}
for a in ASPECTS:
    total = win[a] + tie[a] + lose[a]
    rates[a] = {"win": (win[a] / total) * 100, "tie": (tie[a] / total) * 100, "lose": (lose[a] / total) * 100}
expected = {"judged": len(mlen), "rates": rates,
            "avg_chars": {MODEL: sum(mlen) / len(mlen), REF: sum(rlen) / len(rlen)},
            "model_first": "".join("A" if r["assignment"]["A"] == MODEL else "B" for r in records)}


def dump(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


dump("a.json", a_file)
dump("b.json", b_file)
dump("records.json", records)
dump("expected.json", expected)
