#!/usr/bin/env python3
"""Build the pretraining corpus of the bundled demo base model (issue 7) from Debian packages.

usage: tools/demo_corpus.py OUT.txt [--stats OUT.json] [--seed N]

Documents are separated by blank lines (as `urial train --text` reads them); a document has none inside.
Sources (all installed from Debian 12; licences in models/MODEL_CARD.md):
  wordnet-base   /usr/share/wordnet/data.{noun,verb,adj,adv}   WordNet 3.0 licence (free use)
  dict-gcide     /usr/share/dictd/gcide.dict.dz               GPL-3+ (GNU Collaborative Intl Dictionary)
  dict-foldoc    /usr/share/dictd/foldoc.dict.dz              GFDL-1.1+ (Free On-line Dictionary of Computing)
  jargon-text    /usr/share/doc/jargon-text/jargon.txt.gz     public domain (the Jargon File 4.4.7)
  fortunes       /usr/share/games/fortunes/*                  BSD-style / public domain collections
Every source is cleaned to plain text: markup, pronunciations, etymologies, source tags, URLs,
box-drawing tables and dates are dropped. WordNet synsets are written out as glossary pages in a
few encyclopedic phrasings. About 12% of the documents are question-and-answer pages about words
and terms, as found on the web, in several layouts (plain "Question: / Answer:" lines, markdown
headings, markdown headings with fenced blocks); each page keeps one layout and one voice, and 40%
of the pages are written by a friendly writer (a greeting, the answer, "Hope this helps!"). The
assistant register of the SFT data is therefore in the base distribution, but never the default:
the situation URIAL addresses.
Deterministic for a seed. Python 3 standard library only.
"""
import argparse
import gzip
import json
import os
import random
import re
import sys

WN = "/usr/share/wordnet"
DICTD = "/usr/share/dictd"
JARGON = "/usr/share/doc/jargon-text/jargon.txt.gz"
FORTUNES = "/usr/share/games/fortunes"
NEEDS = {WN + "/data.noun": "wordnet-base", DICTD + "/gcide.dict.dz": "dict-gcide",
         DICTD + "/foldoc.dict.dz": "dict-foldoc", JARGON: "jargon-text", FORTUNES + "/fortunes": "fortunes"}
POS = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}


def die(msg):
    sys.stderr.write("demo_corpus: " + msg + "\n")
    sys.exit(1)


def squash(s):
    return re.sub(r"\s+", " ", s).strip()


# ---- WordNet ----------------------------------------------------------------------------------
def wordnet_synsets():
    """Yield (offset, pos, [lemmas], gloss, [examples], {ptr: [offsets]}) for every synset."""
    for f in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(WN, "data." + f), encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):
                    continue
                head, _, gloss = line.partition(" | ")
                t = head.split()
                off, pos, wcnt = t[0], t[2], int(t[3], 16)
                lemmas = [t[4 + 2 * i] for i in range(wcnt)]
                i = 4 + 2 * wcnt
                pcnt = int(t[i])
                ptrs = {}
                for k in range(pcnt):
                    sym, poff, ppos = t[i + 1 + 4 * k], t[i + 2 + 4 * k], t[i + 3 + 4 * k]
                    ptrs.setdefault(sym, []).append((poff, ppos))
                examples = re.findall(r'"([^"]+)"', gloss)
                definition = squash(re.sub(r'"[^"]*"', "", gloss)).strip(" ;:")
                yield off, pos, [clean_lemma(w) for w in lemmas], definition, examples, ptrs


def clean_lemma(w):
    return re.sub(r"\([a-z]+\)$", "", w).replace("_", " ")


def article(w):
    return "an" if w[:1].lower() in "aeiou" else "a"


def wn_entry(rng, pos, lemmas, definition, examples, hyper):
    w = lemmas[0]
    d = definition.rstrip(".")
    if not d:
        return ""
    if pos == "n":
        form = rng.randrange(4)
        if form == 0:
            s = f"{w[:1].upper() + w[1:]} ({POS[pos]}): {d}."
        elif form == 1:
            s = f"{article(w).capitalize()} {w} is {d}."
        elif form == 2:
            s = f"{w[:1].upper() + w[1:]}: {d}."
        else:
            s = f"The word \"{w}\" means {d}."
        if hyper and rng.random() < 0.6:
            s += f" It is a kind of {hyper}."
    elif pos == "v":
        s = rng.choice([f"To {w} is to {d}.", f"{w[:1].upper() + w[1:]} (verb): {d}.",
                        f"The verb \"{w}\" means to {d}."])
    else:
        s = rng.choice([f"{w[:1].upper() + w[1:]} ({POS[pos]}): {d}.", f"The word \"{w}\" means {d}."])
    if len(lemmas) > 1 and rng.random() < 0.7:
        others = ", ".join(lemmas[1:4])
        s += rng.choice([f" Also called {others}.", f" Synonyms: {others}.", f" Similar words: {others}."])
    if examples and rng.random() < 0.8:
        ex = examples[0].strip()
        s += rng.choice([f" Example: \"{ex}\".", f" For example: {ex}.", f" As in \"{ex}\"."])
    return s


def wordnet_docs(rng, faq_pool):
    syn = list(wordnet_synsets())
    first = {(s[0], s[1] if s[1] != "s" else "a"): s[2][0] for s in syn}
    pages, page = [], []
    for off, pos, lemmas, d, ex, ptrs in syn:
        hyper = None
        if "@" in ptrs:
            hyper = first.get(ptrs["@"][0])
        e = wn_entry(rng, pos, lemmas, d, ex, hyper)
        if not e:
            continue
        page.append(e)
        if len(d) > 12 and len(lemmas[0]) > 2 and " " not in lemmas[0]:
            faq_pool.append((lemmas[0], pos, d, ex[0] if ex else None, lemmas[1:3]))
        if len(page) >= rng.randint(8, 24):
            pages.append("\n".join(page))
            page = []
    if page:
        pages.append("\n".join(page))
    return pages


# ---- dictd (GCIDE, FOLDOC) -----------------------------------------------------------------------
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64num(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def dictd_data(name):
    """The whole text of a dictd dictionary (.dict.dz is gzip-compatible), as bytes."""
    with gzip.open(os.path.join(DICTD, name + ".dict.dz"), "rb") as fh:
        return fh.read()


def dictd_entries(name, data=None):
    """(headword, entry text) of every entry of a dictd dictionary, in index order, each once."""
    if data is None:
        data = dictd_data(name)
    seen = set()
    with open(os.path.join(DICTD, name + ".index"), encoding="utf-8", errors="replace") as fh:
        for line in fh:
            t = line.rstrip("\n").split("\t")
            if len(t) < 3 or t[0].startswith("00-database") or t[0].startswith("00database"):
                continue
            off, ln = b64num(t[1]), b64num(t[2])
            if off in seen:
                continue
            seen.add(off)
            yield t[0], data[off:off + ln].decode("utf-8", errors="replace")


def gcide_clean(text):
    lines = [l for l in text.split("\n") if not re.match(r"^\s*\[(1913 Webster|PJC|WordNet 1.5|Century Dict|Webster 1913 Suppl|RHD|MW10|Chambers 1908|Files)[^\]]*\]\s*$", l)]
    t = "\n".join(lines)
    t = re.sub(r"\\[^\\\n]*\\", "", t)              # pronunciations \Af*fect"\
    t = re.sub(r"\[(Obs|R|Colloq|Archaic|Prov\. Eng|Scot)\.?\]", "", t)
    t = re.sub(r"\[(?:[^\[\]]|\[[^\]]*\])*\]", "", t)  # etymologies and source tags
    t = re.sub(r"--[A-Z][\w. ]*", "", t)             # quotation authors
    t = t.replace("{", "").replace("}", "")
    t = re.sub(r"\?(?=\w)", "", t)
    paras = [squash(p) for p in re.split(r"\n\s*\n", t)]
    paras = [p for p in paras if len(p) > 3]
    if not paras:
        return ""
    paras[0] = re.sub(r"\s+,", ",", paras[0])
    return "\n".join(paras)


def foldoc_clean(head, text):
    body = text.split("\n", 1)[1] if "\n" in text else ""
    body = re.sub(r"\{?\(?(https?|ftp)://[^\s)}]*\)?\}?", "", body)
    body = re.sub(r"^\s*\(\d{4}-\d\d-\d\d\)\s*$", "", body, flags=re.M)
    body = re.sub(r"<([a-z ,\-]+)>", r"(\1)", body)
    body = body.replace("{", "").replace("}", "")
    paras = [squash(p) for p in re.split(r"\n\s*\n", body)]
    paras = [p for p in paras if len(p) > 3 and not p.startswith("[")]
    if not paras:
        return ""
    return head + "\n" + "\n".join(paras)


def gcide_docs(rng, budget):
    out, size = [], 0
    for head, text in dictd_entries("gcide"):
        if rng.random() > 0.42:                      # a deterministic sample within the budget
            continue
        c = gcide_clean(text)
        if len(c) < 30:
            continue
        out.append(c)
        size += len(c)
        if size > budget:
            break
    # glossary pages of 6 to 16 entries, in dictionary order
    docs, i = [], 0
    while i < len(out):
        n = rng.randint(6, 16)
        docs.append("\n".join(out[i:i + n]))
        i += n
    return docs


def foldoc_docs(faq_pool):
    docs = []
    for head, text in dictd_entries("foldoc"):
        c = foldoc_clean(head, text)
        if len(c) < 40:
            continue
        docs.append(c)
        first = c.split("\n")[1] if "\n" in c else ""
        m = re.match(r"(?:\([^)]*\)\s*)?(.*?\.)(\s|$)", first)
        if m and 20 < len(m.group(1)) < 300 and " " not in head and head.isascii():
            faq_pool.append((head, "c", m.group(1).rstrip("."), None, []))
    return docs


# ---- Jargon File, fortunes ------------------------------------------------------------------------
def jargon_docs():
    with gzip.open(JARGON, "rt", encoding="utf-8", errors="replace") as fh:
        t = fh.read()
    t = "\n".join(l for l in t.split("\n") if not re.search(r"[\u2500-\u257f]", l))
    t = re.sub(r"\[\d+\]", "", t)
    paras = [squash(p) for p in re.split(r"\n\s*\n", t)]
    paras = [p for p in paras if len(p) > 20 and not re.match(r"^(Prev|Next|Home|Up)\b", p)]
    docs, cur = [], []
    for p in paras:
        cur.append(p)
        if sum(len(x) for x in cur) > 2000:
            docs.append("\n".join(cur))
            cur = []
    if cur:
        docs.append("\n".join(cur))
    return docs


def fortune_docs():
    docs = []
    skip = {"art", "ascii-art", "translate-me"}
    for f in sorted(os.listdir(FORTUNES)):
        p = os.path.join(FORTUNES, f)
        if "." in f or f in skip or not os.path.isfile(p):
            continue
        with open(p, encoding="utf-8", errors="replace") as fh:
            for chunk in fh.read().split("\n%\n"):
                c = chunk.strip("%\n ").rstrip()
                if 10 < len(c) < 1500:
                    docs.append(c)
    return docs


# ---- question-and-answer pages ------------------------------------------------------------------
Q_FORMS = ["What does {w} mean?", "what is {a} {w}?", "What is the meaning of \"{w}\"?", "Define {w}.",
           "Can someone explain what {w} means?", "What's {a} {w}?", "meaning of {w}", "What is {w}?"]
C_FORMS = ["What is {w} in computing?", "What does {w} stand for?", "What is {w}?", "Can anyone explain {w}?"]
HELLO = ["Hi!", "Hello!", "Hi there!", "Good question!", "Sure!", "Happy to help!"]
BYE = ["Hope this helps!", "Hope that helps.", "Let me know if you have more questions.",
       "Feel free to ask if anything is unclear.", "Cheers!", "Good luck!"]


def faq_answer(w, pos, d):
    if pos == "v":
        return f"To {w} means to {d}."
    if pos == "c":
        return f"{w} is {d[:1].lower() + d[1:]}." if not d.lower().startswith(("a ", "an ", "the ")) else f"{w} is {d}."
    if pos == "n":
        return f"{article(w).capitalize()} {w} is {d}."
    return f"\"{w}\" means {d}."


QH = ["Question", "Query", "Q", "Ask", "Asked"]
AH = ["Answer", "Reply", "Response", "A"]
INTROS = ["Readers send us questions about words and terms. Here are some of them, with our answers.",
          "Frequently asked questions about words.", "Questions from the mailbag, and our replies.",
          "Below is a list of questions and answers about the meaning of words and computing terms.",
          "Some questions people asked on the help desk this week."]


def faq_docs(rng, pool, n):
    """Question-and-answer pages. A page keeps one layout and one voice for all its answers (one
    writer, one style), so the pages teach what a reader of any such page knows: the next answer
    on the page looks like the answers before it."""
    docs = []
    for _ in range(n):
        items = rng.sample(pool, rng.randint(3, 8))
        layout = rng.choice(["qa", "qa", "lines", "markdown", "markdown-fenced"])
        qh, ah = rng.choice(QH), rng.choice(AH)
        friendly = rng.random() < 0.4
        hello, bye = rng.choice(HELLO), rng.choice(BYE)
        out = [rng.choice(INTROS)] if rng.random() < 0.5 else []
        for w, pos, d, ex, syn in items:
            q = rng.choice(C_FORMS if pos == "c" else Q_FORMS).format(w=w, a=article(w))
            a = faq_answer(w, pos, d)
            if ex and rng.random() < 0.5:
                a += f" For example: \"{ex}\"."
            if syn and rng.random() < 0.4:
                a += f" A similar word is \"{syn[0]}\"."
            if friendly:
                a = f"{hello} {a} {bye}"
            if layout == "qa":
                out.append(f"{qh}: {q}\n{ah}: {a}")
            elif layout == "lines":
                out.append(f"{q}\n{a}")
            elif layout == "markdown":
                out.append(f"## {qh}\n{q}\n## {ah}\n{a}")
            else:
                out.append(f"# {qh}:\n```\n{q}\n```\n# {ah}:\n```\n{a}\n```")
        docs.append("\n".join(out))
    return docs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--stats")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--gcide-mb", type=float, default=12.0)
    ap.add_argument("--faq-share", type=float, default=0.12)
    a = ap.parse_args()
    for path, pkg in NEEDS.items():
        if not os.path.exists(path):
            die(f"{path} missing (apt-get install {pkg})")
    rng = random.Random(a.seed)
    pool = []
    parts = {"wordnet": wordnet_docs(rng, pool), "gcide": gcide_docs(rng, int(a.gcide_mb * 1e6)),
             "foldoc": foldoc_docs(pool), "jargon": jargon_docs(), "fortunes": fortune_docs()}
    pool.sort(key=lambda t: (t[0], t[1], t[2]))
    nother = sum(len(v) for v in parts.values())
    parts["qa-pages"] = faq_docs(rng, pool, int(nother * a.faq_share / (1 - a.faq_share)))
    docs = [(k, d) for k, v in parts.items() for d in v]
    rng.shuffle(docs)
    with open(a.out, "w", encoding="utf-8") as fh:
        for _, d in docs:
            fh.write(re.sub(r"\n\s*\n", "\n", d.strip()) + "\n\n")
    stats = {"documents": len(docs), "bytes": os.path.getsize(a.out), "seed": a.seed,
             "sources": {k: {"documents": len(v), "bytes": sum(len(d.encode()) for d in v)} for k, v in parts.items()}}
    if a.stats:
        with open(a.stats, "w") as fh:
            json.dump(stats, fh, indent=1)
            fh.write("\n")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
