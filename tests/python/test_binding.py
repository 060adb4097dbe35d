"""python/urial against the urial binary, on the bundled demo models (run by tests/cli/test_python.sh).

usage: PYTHONPATH=python python3 tests/python/test_binding.py URIAL_BINARY BASE.gguf CHAT.gguf
Prints one PASS/FAIL line per check (tests/run.sh counts them)."""
import json
import subprocess
import sys

import urial

URIAL, BASE, CHAT = sys.argv[1:4]
SUITE = "test_python"
failed = 0


def check(name, cond, detail=""):
    global failed
    print(f"PASS {SUITE}/{name}" if cond else f"FAIL {SUITE}/{name}: {detail}"[:400])
    failed += not cond


def run(*args):
    return subprocess.run([URIAL, *args], capture_output=True, text=True, check=True).stdout


m = urial.Model(BASE, threads=2)
text = "The quick brown fox jumps over the lazy dog."
ids = m.tokenize(text)
cli_ids = json.loads(run("tokenize", "-m", BASE, "--text", text, "--json"))
check("tokenize_equals_cli", ids == (cli_ids["ids"] if isinstance(cli_ids, dict) else cli_ids), f"{ids} vs {cli_ids}")
check("tokenize_no_bos", m.tokenize(text, add_bos=False) == ids[1:], str(m.tokenize(text, add_bos=False)[:5]))

lg = m.logits(ids)
rows = [json.loads(l) for l in run("logits", "-m", BASE, "--ids", ",".join(map(str, ids)), "--top", "5").splitlines()]
worst, same_ids = 0.0, True
for p, r in enumerate(rows):
    row = [float(x) for x in lg[p]]
    order = sorted(range(len(row)), key=lambda i: (-row[i], i))[:5]
    same_ids &= order == [t[0] for t in r["top"]]
    for tid, v in r["top"]:
        worst = max(worst, abs(row[tid] - v) / max(1.0, abs(v)))
check("logits_equal_cli", same_ids and worst <= 1e-6 and len(rows) == len(ids), f"ids same {same_ids}, worst {worst}")
try:
    import numpy

    check("logits_numpy", isinstance(lg, numpy.ndarray) and lg.shape == (len(ids), m.n_vocab) and lg.dtype == numpy.float32,
          str(type(lg)))
except ImportError:
    check("logits_lists", isinstance(lg, list) and len(lg[0]) == m.n_vocab, str(type(lg)))

out = m.generate("Once upon a time", max_tokens=24)
cli = run("generate", "-m", BASE, "-p", "Once upon a time", "-n", "24")
check("generate_equals_cli", out + "\n" == cli, f"{out!r} vs {cli!r}")
out = m.generate("What is the capital of France?", urial="urial-k3", max_tokens=32, ctx=2048)
cli = run("generate", "-m", BASE, "-p", "What is the capital of France?", "-n", "32", "--urial", "urial-k3", "--ctx", "2048")
check("generate_urial_equals_cli", out + "\n" == cli, f"{out!r} vs {cli!r}")
out = m.generate("Once upon a time", max_tokens=24, temp=0.8, top_p=0.9, seed=7)
cli = run("generate", "-m", BASE, "-p", "Once upon a time", "-n", "24", "--temp", "0.8", "--top-p", "0.9", "--seed", "7")
check("generate_sampled_equals_cli", out + "\n" == cli, f"{out!r} vs {cli!r}")

p = urial.render("urial-k3", "What is urial?")
check("render_equals_cli", p == run("prompt", "--urial", "urial-k3", "--query", "What is urial?"), p[-80:])

chat = urial.Model(CHAT, threads=2)
answer = " Paris is the capital of France."
r = urial.tds(m, chat, p, p, answer)
check("tds_counts", r["tokens"] == len(r["positions"]) > 3 and r["unshifted"] + r["marginal"] + r["shifted"] == r["tokens"],
      json.dumps(r)[:300])
same = urial.tds(m, m, p, p, answer)
check("tds_self_unshifted", same["unshifted"] == same["tokens"] and all(abs(x["kl"]) < 1e-6 for x in same["positions"]),
      json.dumps(same)[:300])

try:
    urial.Model("/nonexistent/model.gguf")
    check("load_error", False, "no exception")
except urial.Error as e:
    check("load_error", "/nonexistent/model.gguf" in str(e), str(e))
try:
    urial.render("no-such-prompt", "q")
    check("render_error", False, "no exception")
except urial.Error as e:
    check("render_error", "no-such-prompt" in str(e), str(e))
sys.exit(1 if failed else 0)
