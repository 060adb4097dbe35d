#!/usr/bin/python3
"""LIMA-style demonstration, end to end with urial's own trainer (not part of
`make test`: it takes a few minutes on two cores).

  1. data: a small made-up world, written twice (see make_data):
       corpus.txt  encyclopedia-style text about 400 invented words (what each is,
                   its size, colour and where it is found) in several phrasings;
       sft.jsonl   300 LIMA-style chats in one consistent assistant style
                   ("Sure! A blorim is ... Let me know if you would like to know more.")
                   about 300 of the words;
       dev.jsonl   50 chats about 50 other words, whose facts are only in the corpus.
  2. `urial train`: pretrain a small base model on corpus.txt (it never sees a chat);
     tokenizer: urial's built-in byte-level vocabulary (`urial synth`).
  3. `urial sft`: LIMA's recipe (15 epochs, batch 32, linear decay to lr/10, no
     warmup, AdamW 0.9/0.95, weight decay 0.1, residual dropout 0 -> 0.2, loss on
     assistant tokens only, zephyr template with </s> as end-of-turn token); the
     learning rate is scaled up (1e-3) for a model this small.
  4. compare greedy outputs of the base and of the SFT checkpoint with the lowest
     dev loss on the 50 dev prompts, each rendered with the zephyr template, and
     write OUT/DEMO.md: how many answers follow the chat format (open with "Sure!",
     end with the end-of-turn token, close with the offer) for each model, and the
     outputs side by side. OUT/sft/report.md is the trainer's own report.

usage: tools/lima_demo.py [OUT_DIR] [--urial build/urial] [--threads N] [--quick]
"""
import argparse
import json
import os
import random
import subprocess
import sys

SIZES = ["tiny", "small", "large", "huge"]
COLOURS = ["red", "blue", "green", "yellow", "white", "black", "grey", "orange", "purple", "brown"]
KINDS = ["animal", "fruit", "tool", "bird", "fish", "tree", "stone", "flower", "insect", "boat"]
PLACES = ["in rivers", "in the mountains", "near the sea", "in old houses", "in deserts", "in forests",
          "on farms", "in caves", "in cold lakes", "in city parks"]


def words(rng, n):
    cons, vows = "bdfgklmnprstvz", "aeiou"
    out = set()
    while len(out) < n:
        w = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.choice([2, 3])))
        out.add(w + rng.choice(["", "n", "m", "sh", "r"]))
    return sorted(out)


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def make_data(out, seed=1):
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    ws = words(rng, 400)
    rng.shuffle(ws)
    facts = {w: dict(size=rng.choice(SIZES), colour=rng.choice(COLOURS), kind=rng.choice(KINDS),
                     place=rng.choice(PLACES)) for w in ws}

    with open(os.path.join(out, "corpus.txt"), "w") as f:
        docs = []
        for w, x in facts.items():
            a = article(x["size"])
            docs.append(f"{w.capitalize()}: {a} {x['size']} {x['colour']} {x['kind']} found {x['place']}.")
            docs.append(f"The {w} is {article(x['kind'])} {x['kind']}. It is {x['size']} and {x['colour']}, "
                        f"and it lives {x['place']}.")
            docs.append(f"Travellers who have seen {article(w)} {w} say that it is {x['colour']} and {x['size']}. "
                        f"Most {w}s are found {x['place']}.")
        rng.shuffle(docs)
        f.write("\n\n".join(docs) + "\n")

    def chat(w, q_kind):
        x = facts[w]
        a = article(x["size"])
        if q_kind == 0:
            q, ans = f"What is {article(w)} {w}?", (f"Sure! {article(w).capitalize()} {w} is {a} {x['size']} {x['colour']} "
                                                   f"{x['kind']} that is found {x['place']}. "
                                                   "Let me know if you would like to know more.")
        elif q_kind == 1:
            q, ans = f"Where can I find {article(w)} {w}?", (f"Sure! You can find the {w} {x['place']}. "
                                                            f"It is {a} {x['size']} {x['colour']} {x['kind']}. "
                                                            "Let me know if you would like to know more.")
        else:
            q, ans = f"What colour is the {w}?", (f"Sure! The {w} is {x['colour']}. It is {a} {x['size']} "
                                                 f"{x['kind']} found {x['place']}. "
                                                 "Let me know if you would like to know more.")
        return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": ans}]}

    train_words, dev_words = ws[:300], ws[300:350]
    with open(os.path.join(out, "sft.jsonl"), "w") as f:
        for i, w in enumerate(train_words):
            f.write(json.dumps(chat(w, i % 3)) + "\n")
    with open(os.path.join(out, "dev.jsonl"), "w") as f:
        for i, w in enumerate(dev_words):
            f.write(json.dumps(chat(w, i % 3)) + "\n")



def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def generate(urial, model, query, tokens, threads):
    """Greedy answer of `model` to `query` in the zephyr format: (text, stopped at end-of-turn)."""
    prompt = subprocess.run([urial, "prompt", "--template", "zephyr", "--query", query], check=True,
                            capture_output=True, text=True).stdout
    r = subprocess.run([urial, "generate", "-m", model, "-p", prompt, "--special", "-n", str(tokens), "-t",
                        str(threads)], check=True, capture_output=True, text=True)
    return r.stdout.rstrip("\n"), "stop: eog" in r.stderr


def follows_format(text, eot):
    return eot and text.startswith("Sure!") and text.rstrip().endswith("Let me know if you would like to know more.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default="/tmp/urial-lima-demo")
    ap.add_argument("--urial", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "urial"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer pretraining epochs (a smoke run)")
    a = ap.parse_args()
    u, out, t = a.urial, a.out, str(a.threads)
    make_data(out)
    run([u, "synth", f"{out}/vocab.gguf", "--dim", "32", "--layers", "1", "--heads", "1", "--kv-heads", "1",
         "--ff", "32"], stderr=subprocess.DEVNULL)
    epochs = 2 if a.quick else 12
    run([u, "train", "--text", f"{out}/corpus.txt", "--tokenizer", f"{out}/vocab.gguf", "--out", f"{out}/base",
         "--config", "dim=192,layers=4,heads=6,kv_heads=2,ff=512,ctx=256", "--epochs", str(epochs), "--batch", "16",
         "--lr", "2e-3", "--lr-end", "2e-4", "--ckpt-every", str(epochs), "--quiet", "-t", t, "--overwrite"])
    base = f"{out}/base/epoch-{epochs:03d}.gguf"
    run([u, "sft", "-m", base, "--data", f"{out}/sft.jsonl", "--dev", f"{out}/dev.jsonl", "--out", f"{out}/sft",
         "--lr", "1e-3", "--lr-end", "1e-4", "--samples", "5", "--sample-tokens", "160", "--quiet", "-t", t, "--overwrite"])
    recs = [json.loads(l) for l in open(f"{out}/sft/checkpoints.jsonl")]
    best = min(recs, key=lambda r: r["dev_loss"])
    sft = f"{out}/sft/{best['file']}"
    dev = [json.loads(l)["messages"] for l in open(f"{out}/dev.jsonl")]
    rows, n_base, n_sft, w_base, w_sft = [], 0, 0, 0, 0
    for msgs in dev:
        q, ref = msgs[0]["content"], msgs[1]["content"]
        word = q.rstrip("?").split()[-1]
        bt, be = generate(u, base, q, 160, a.threads)
        st, se = generate(u, sft, q, 160, a.threads)
        n_base += follows_format(bt, be)
        n_sft += follows_format(st, se)
        w_base += word in bt.split() or word + "." in bt.split()
        w_sft += word in st.split() or word + "." in st.split()
        rows.append((q, bt, be, st, se, ref))
    with open(f"{out}/DEMO.md", "w") as f:
        f.write("# LIMA-style SFT with urial: demonstration\n\n")
        f.write("Produced by `tools/lima_demo.py` (see its docstring for the data and recipe). The base model was "
                f"pretrained on plain text only (`{os.path.relpath(base, out)}`); the aligned model is the SFT "
                f"checkpoint with the lowest dev loss (`{os.path.relpath(sft, out)}`, epoch {best['epoch']} of 15, "
                f"dev loss {best['dev_loss']:.4f}). Both answer the 50 dev prompts greedily (at most 160 tokens) "
                "with the zephyr template `<|user|>\\n{query}</s>\\n<|assistant|>\\n`.\n\n")
        f.write("| model | answers in the chat format (of 50) | answers that name the word asked about |\n"
                "|---|---|---|\n")
        f.write(f"| base | {n_base} | {w_base} |\n| SFT | {n_sft} | {w_sft} |\n\n")
        f.write('"In the chat format": opens with "Sure!", closes with "Let me know if you would like to know '
                'more." and then stops with the end-of-turn token `</s>`. The dev words never appear in the SFT '
                "data; their facts are only in the pretraining text. The format is what SFT teaches; whether the "
                "answer also names the word and its facts depends on what the (tiny, byte-level) base learned in "
                "pretraining. The trainer's report with dev loss per epoch and samples per checkpoint: "
                "`sft/report.md`.\n\n## Outputs\n")
        for i, (q, bt, be, st, se, ref) in enumerate(rows[:12]):
            f.write(f"\n### {i + 1}. {q}\n\n**Base** ({'stopped at </s>' if be else 'no end-of-turn'}):\n\n"
                    f"> {bt or '(empty)'}\n\n**SFT** ({'stopped at </s>' if se else 'no end-of-turn'}):\n\n"
                    f"> {st or '(empty)'}\n\n*Reference:* {ref}\n")
    print(f"base: {n_base}/50 in the chat format; SFT ({best['file']}): {n_sft}/50; see {out}/DEMO.md")


if __name__ == "__main__":
    main()
