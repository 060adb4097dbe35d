#!/usr/bin/env python3
"""Check that llama.cpp loads and runs GGUF files written by urial, and agrees with urial on them.

usage: tools/demo_llamacpp.py MODEL.gguf [MODEL.gguf ...] [--llamacpp DIR] [--urial build/urial]

For each model, through ../shared/tools/llamacpp.mjs (node-llama-cpp, installed in DIR as its README
says; default /tmp/llamacpp): (1) tokenize five sentences with both and compare the ids; (2) the
teacher-forced top-5 logits at every position of a 60-token text from both, compared (top-1
agreement, largest |difference| relative to the largest |logit|). (llamacpp.mjs's bench feeds token
ids up to 20,099, which a 4,096-token vocabulary refuses, so speed is not measured here.) Prints a Markdown table (models/MODEL_CARD.md records it). Not part of `make test`
(node-llama-cpp is a 700 MB download).
"""
import argparse
import json
import os
import subprocess
import sys

TEXTS = ['Hi! The word "lexicon" means a vocabulary.', "What is a compiler in computing?",
         "To clamber means to climb awkwardly.", "Sure! Let me know if you have any other questions.",
         "ruthenium, 1582-02-24, naïve café: 3.14"]
PARA = ("Q: What does garden mean?\nA: A garden is a plot of ground where plants are cultivated. "
        "For example, many people grow vegetables in a garden. A compiler is a program that converts "
        "another program from a source language to machine language.")


def sh(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"demo_llamacpp: {' '.join(cmd[:3])}: {r.stderr.strip().splitlines()[-1:]}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--llamacpp", default="/tmp/llamacpp")
    ap.add_argument("--urial", default="build/urial")
    a = ap.parse_args()
    js = os.path.join(a.llamacpp, "llamacpp.mjs")
    if not os.path.exists(js):
        sys.exit(f"demo_llamacpp: {js} missing (see ../shared/tools/README.md)")
    urial = os.path.abspath(a.urial)
    print("| model | tokenizer: same ids | top-1 agreement | max abs logit diff / max abs logit | positions |")
    print("|---|---|---|---|---|")
    for m in a.models:
        m = os.path.abspath(m)
        same = 0
        for t in TEXTS:
            ll = json.loads(sh(["node", "llamacpp.mjs", "tokenize", m, "--text", t], a.llamacpp))
            ur = [int(x) for x in sh([urial, "tokenize", "-m", m, "--no-bos", "--text", t]).split()]
            same += ll == ur
        ids = [int(x) for x in sh([urial, "tokenize", "-m", m, "--text", PARA]).split()][:60]
        idl = ",".join(map(str, ids))
        ll = json.loads(sh(["node", "llamacpp.mjs", "logits", m, "--tokens", idl, "--top", "5"],
                           a.llamacpp).strip().splitlines()[-1])
        ur = [json.loads(l) for l in sh([urial, "logits", "-m", m, "--ids", idl, "--top", "5"]).splitlines()]
        agree, worst, big = 0, 0.0, 1e-9
        for p, q in zip(ll, ur):
            lt = p.get("top", p.get("logits"))
            ut = q["top"]
            lt = [(int(x[0]), float(x[1])) if isinstance(x, list) else (int(x["id"]), float(x["logit"])) for x in lt]
            agree += lt[0][0] == ut[0][0]
            ud = {i: v for i, v in ut}
            for i, v in lt:
                big = max(big, abs(v))
                if i in ud:
                    worst = max(worst, abs(v - ud[i]))
        print(f"| {os.path.basename(m)} | {same}/{len(TEXTS)} | {agree}/{len(ur)} | {worst / big:.1e} | "
              f"{len(ur)} |")


if __name__ == "__main__":
    main()
