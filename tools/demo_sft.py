#!/usr/bin/env python3
"""Build the SFT, dev and held-out data of urial's bundled demo models (issue 7).

  python3 tools/demo_sft.py [--out data/demo] [--seed 7]

Writes, deterministically (python3 standard library only, fixed seed):
  OUT/sft.jsonl        ~1,000 LIMA-style chats {"messages":[{"role","content"},...]}
  OUT/dev.jsonl        ~44 chats in the same format and style about other terms
  OUT/heldout.jsonl    50 prompts {"id","instruction"} about terms in neither file
  OUT/questions.txt    3 sample questions for `make demo`
  OUT/urial-demo.txt   a URIAL prompt (the URIAL authors' file format, K=3)
  OUT/sft-stats.json   counts per category, turns, refusals, answer lengths

The knowledge in every answer comes from WordNet 3.0 glosses, examples and pointers
(/usr/share/wordnet, Debian package wordnet-base) and from FOLDOC definitions
(/usr/share/dictd/foldoc.*, Debian package dict-foldoc): the same text the demo base
model is pretrained on. Only the wording around it (question phrasings, the assistant's
opening and closing sentences, the refusals) is written here.

Style of every answer: an opening that addresses the question ("Sure! ...", "Great
question! ...") and restates the term, a body of 1-3 sentences or a short numbered list
with the knowledge, and a closing offer of more help ("Let me know if ...").
"""
import argparse
import base64
import gzip
import json
import os
import random
import re
import sys

WN = "/usr/share/wordnet"
FOLDOC_INDEX = "/usr/share/dictd/foldoc.index"
FOLDOC_DICT = "/usr/share/dictd/foldoc.dict.dz"

N_SFT = {  # chats per category in sft.jsonl
    "define": 215, "computing": 150, "usage": 110, "explain": 110, "compare": 90,
    "synonym": 100, "opposite": 75, "kindof": 95, "multiturn": 40, "refusal": 12,
}
N_DEV = {
    "define": 8, "computing": 7, "usage": 5, "explain": 5, "compare": 4,
    "synonym": 4, "opposite": 4, "kindof": 4, "multiturn": 2, "refusal": 1,
}
N_HELDOUT = {
    "define": 10, "computing": 8, "usage": 5, "explain": 6, "compare": 5,
    "synonym": 5, "opposite": 5, "kindof": 4, "harmful": 2,
}


def die(msg):
    sys.stderr.write("demo_sft: %s\n" % msg)
    sys.exit(1)


def need(path, pkg):
    if not os.path.exists(path):
        die("%s missing (apt-get install %s)" % (path, pkg))


# ---------------------------------------------------------------- WordNet

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
BAD_GLOSS = re.compile(r"offensive|vulgar|obscene|slang|derogat|disparag|slur|ethnic|"
                       r"sexual|genital|penis|vagina|feces|excrement|urine|rape|"
                       r"prostitut|whore|kill|murder|suicide|drug|narcotic|racial|"
                       r"trademark|genus|family |order |species|chemical element|"
                       r"\bused of\b|\bused in\b|\bobsolete\b|archaic|informal|british|"
                       r"\bformerly\b|nautical", re.I)
BAD_WORDS = {"god", "christ", "jesus", "bible", "allah", "sex", "nigger", "jew", "nazi",
             "bitch", "bastard", "ass", "dick", "cock", "pussy", "fuck", "shit", "hell",
             "damn", "gay", "queer", "fag", "homo", "dyke", "slut", "tit", "crap", "piss",
             "negro", "retard", "idiot", "moron", "cretin", "kill", "gun", "rifle", "bomb"}


class Synset:
    __slots__ = ("off", "pos", "lex", "words", "ptrs", "defs", "examples")


def parse_data(pos):
    path = "%s/data.%s" % (WN, POS_FILES[pos])
    out = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            head, _, gloss = line.partition(" | ")
            t = head.split()
            s = Synset()
            s.off, s.lex, s.pos = t[0], int(t[1]), t[2]
            wc = int(t[3], 16)
            i = 4
            s.words = []
            for _ in range(wc):
                w = re.sub(r"\(.*\)$", "", t[i])  # adjective markers (p), (a), (ip)
                s.words.append(w)
                i += 2
            pc = int(t[i])
            i += 1
            s.ptrs = []
            for _ in range(pc):
                sym, off, ppos, st = t[i], t[i + 1], t[i + 2], t[i + 3]
                if ppos == "s":
                    ppos = "a"
                s.ptrs.append((sym, off, ppos, int(st[:2], 16), int(st[2:], 16)))
                i += 4
            s.defs, s.examples = split_gloss(gloss.strip())
            key = "s" if s.pos == "s" else s.pos
            s.pos = "a" if key == "s" else key
            out[s.off] = s
    return out


def split_gloss(g):
    """WordNet gloss -> (definitions, quoted examples)."""
    defs, exs = [], []
    parts, depth, cur, inq = [], 0, "", False
    for ch in g:
        if ch == '"':
            inq = not inq
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == ";" and depth == 0 and not inq:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if p.startswith('"'):
            e = p.strip('"').strip()
            exs.append(e)
        else:
            defs.append(p)
    return defs, exs


def clean_text(s):
    s = s.replace("_", " ")
    s = re.sub(r"\s*\([^()]*\)", "", s)          # parenthesised usage notes
    s = re.sub(r"\s*\[[^\[\]]*\]", "", s)
    s = s.replace("`", "'").replace("''", '"')
    s = re.sub(r"\s+", " ", s).strip(" ;:,-")
    s = re.sub(r"\s+([,.;:!?])", r"\1", s)
    return s


def good_def(d):
    if not d or len(d) < 8 or BAD_GLOSS.search(d):
        return False
    if re.search(r"[()\[\]\"{}<>=/\\|]|--|\.\.\.|e\.g\.|i\.e\.|etc\.", d):
        return False
    n = len(d.split())
    return 3 <= n <= 24


def good_example(e, lemma):
    if not e or "--" in e or re.search(r"[()\[\]{}<>|\\/_]", e):
        return False
    n = len(e.split())
    if not 4 <= n <= 18:
        return False
    if e.count('"') or BAD_GLOSS.search(e):
        return False
    stem = lemma[:-1] if len(lemma) > 4 and lemma.endswith("e") else lemma
    return re.search(r"\b%s" % re.escape(stem), e, re.I) is not None


def sentence(s):
    s = s.strip()
    i = 1 if s[0] == '"' else 0
    s = s[:i] + s[i].upper() + s[i + 1:]
    if s[-1] not in ".!?":
        s += "."
    return s


def load_wordnet():
    for p in ("noun", "verb", "adj", "adv"):
        need("%s/data.%s" % (WN, p), "wordnet-base")
        need("%s/index.%s" % (WN, p), "wordnet-base")
    need("%s/cntlist.rev" % WN, "wordnet-base")
    syn = {pos: parse_data(pos) for pos in POS_FILES}
    # tagged-corpus frequency of each (lemma, pos): how common a word is
    freq = {}
    posnum = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
    with open("%s/cntlist.rev" % WN, encoding="latin-1") as f:
        for line in f:
            t = line.split()
            if len(t) != 3:
                continue
            lemma, _, rest = t[0].partition("%")
            k = (lemma, posnum.get(rest[:1], "?"))
            freq[k] = freq.get(k, 0) + int(t[2])
    # first (most frequent) sense of each lemma
    first = {}
    for pos, name in POS_FILES.items():
        with open("%s/index.%s" % (WN, name), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                t = line.split()
                lemma, nsyn = t[0], int(t[2])
                first[(lemma, pos)] = t[-nsyn:]
    return syn, freq, first


class Word:
    """One common word with its most frequent sense, cleaned."""
    __slots__ = ("w", "pos", "freq", "ss", "gloss", "examples")


def article(w):
    if re.match(r"(uni|use|usu|euro|one\b|once)", w):
        return "a"
    if re.match(r"(hour|honest|honor|honour|heir)", w):
        return "an"
    return "an" if w[:1].lower() in "aeiou" else "a"


STOP = set("""about above after again against also although always another any anything
around away back because before behind below besides between beyond both but even ever
every few first here however just last least less like little many more most much never
next now often once only other over quite rather really same several since so some still
such than that then there these they this those though through thus together too under
until very well what when where which while who whom whose why with within without yet
people thing things way something someone somebody nothing lot three four five six seven
eight nine ten hundred thousand million second third""".split())


def build_words(syn, freq, first):
    words = {}
    best = {}  # the most frequent part of speech of each lemma
    for (lemma, pos) in first:
        f = freq.get((lemma, pos), 0)
        if f > best.get(lemma, (-1, ""))[0]:
            best[lemma] = (f, pos)
    for (lemma, pos), offs in first.items():
        if not re.fullmatch(r"[a-z]{3,12}", lemma) or lemma in BAD_WORDS or lemma in STOP:
            continue
        f = freq.get((lemma, pos), 0)
        if f < 3 or best[lemma][1] != pos or len(offs) > 8:
            continue
        s = syn[pos][offs[0]]
        defs = [clean_text(d) for d in s.defs]
        defs = [d for d in defs if good_def(d)]
        if not defs or BAD_GLOSS.search(" ".join(s.defs)):
            continue
        g = defs[0]
        if pos == "n" and not re.match(r"(a|an|any|one) ", g):
            continue  # countable nouns only: "A dog is a ..."
        if pos == "v" and re.match(r"(a|an|the|to) ", g):
            continue
        stem = lemma[:-1] if len(lemma) > 4 and lemma.endswith("e") else lemma
        if re.search(r"\b%s" % re.escape(stem), g, re.I):
            continue
        wd = Word()
        wd.w, wd.pos, wd.freq, wd.ss, wd.gloss = lemma, pos, f, s, g
        wd.examples = [clean_text(e) for e in s.examples]
        wd.examples = [e for e in wd.examples if good_example(e, lemma)]
        words[(lemma, pos)] = wd
    return words


# ---------------------------------------------------------------- FOLDOC

from demo_corpus import dictd_data, dictd_entries  # noqa: E402  (the dictd reader of the corpus)


def load_foldoc():
    need(FOLDOC_INDEX, "dict-foldoc")
    need(FOLDOC_DICT, "dict-foldoc")
    data = dictd_data("foldoc")
    text = data.decode("utf-8", "replace")
    refs = {}
    for m in re.finditer(r"\{([^{}]+)\}", text):
        k = re.sub(r"\s+", " ", m.group(1)).strip().lower()
        refs[k] = refs.get(k, 0) + 1
    terms = []
    for _, entry in dictd_entries("foldoc", data):
        r = parse_foldoc(entry)
        if r:
            name, d = r
            terms.append((name, d, refs.get(name.lower(), 0)))
    return terms


FOLDOC_BAD = re.compile(r"\b(see|obsolete|company|corporation|inc|ltd|university|"
                        r"language|dialect|jargon|slang|joke|humor|humour|game|"
                        r"product|version|released|trademark|person|hacker|usenet|"
                        r"company's|word|abbreviation|acronym|term|misspelling|spelling|"
                        r"he|she|you|I|we|my)\b", re.I)


def parse_foldoc(entry):
    lines = entry.split("\n")
    name = lines[0].strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z -]{1,22}[A-Za-z]", name):
        return None
    if name != name.lower():
        return None
    if len(name.split()) > 3:
        return None
    body = "\n".join(lines[1:])
    paras = [p for p in re.split(r"\n\s*\n", body) if p.strip().startswith(("<", "(", "A", "1", "T"))]
    if not paras:
        return None
    p = " ".join(paras[0].split())
    p = re.sub(r"^1\.\s*", "", p)
    p = re.sub(r"^(<[^<>]*>\s*)+", "", p)
    p = re.sub(r"^/[^/]+/\s*", "", p)
    p = re.sub(r"^(\([^()]*\)\s*)+", "", p)
    p = re.sub(r"\{([^{}]*?)\s*\([^{}()]*\)\}", r"\1", p)
    p = re.sub(r"\{([^{}]*)\}", r"\1", p)
    p = re.sub(r"\s*\([^()]*\)", "", p)
    p = re.sub(r"\s*\[[^\[\]]*\]", "", p)
    p = p.replace("e.g.", "for example").replace("i.e.", "that is")
    sents = re.split(r"(?<=[a-z0-9])\.\s+(?=[A-Z])", p)
    d = sents[0].rstrip(". ")
    if not re.match(r"(A|An|The|Any) [a-z]", d):
        return None
    nw = len(d.split())
    if nw < 6 or nw > 34:
        return None
    if re.search(r"[<>{}\[\]()\"|/\\:;@#$%^*=+~]|\.\.|  ", d) or FOLDOC_BAD.search(d):
        return None
    if name.lower() in d.lower():
        return None
    if len(sents) > 1:
        s2 = sents[1].rstrip(". ")
        if (4 <= len(s2.split()) <= 22 and nw + len(s2.split()) <= 46
                and not re.search(r"[<>{}\[\]()\"|/\\:;@#$%^*=+~]", s2)
                and not FOLDOC_BAD.search(s2) and re.match(r"(It|This|These|They)\b", s2)):
            d = d + ". " + s2
    return name, d


# ---------------------------------------------------------------- style

OPEN = ["Sure!", "Great question!", "Of course!", "Happy to help!", "Certainly!", "Good question!"]
CLOSE = [
    "Let me know if you would like more examples!",
    "Feel free to ask if you have any other questions.",
    "I hope this helps!",
    "Let me know if there is anything else you would like to know.",
    "I hope this helps! Feel free to ask me anything else.",
    "Let me know if you have any other questions!",
]


class Style:
    def __init__(self, rng):
        self.rng = rng

    def open(self):
        return self.rng.choice(OPEN)

    def close(self):
        return self.rng.choice(CLOSE)

    def answer(self, body):
        sep = "\n\n" if re.search(r"\n\d+\. [^\n]*$", body) else " "
        return "%s %s%s%s" % (self.open(), body, sep, self.close())


def q(w):
    return '"%s"' % w


def lc1(s):
    return s[0].lower() + s[1:] if s and not re.match(r"[A-Z]{2}", s) else s


def meaning(wd):
    """A sentence restating the word with its gloss."""
    g = wd.gloss
    if wd.pos == "n":
        return "%s %s is %s." % (article(wd.w).capitalize(), wd.w, g)
    if wd.pos == "v":
        return "To %s means to %s." % (wd.w, g)
    if wd.pos == "a":
        return "The adjective %s means %s." % (q(wd.w), g)
    return "The adverb %s means %s." % (q(wd.w), g)


def short_meaning(wd):
    g = wd.gloss
    if wd.pos == "n":
        return "%s %s is %s" % (article(wd.w), wd.w, g)
    if wd.pos == "v":
        return "to %s means to %s" % (wd.w, g)
    return "%s means %s" % (q(wd.w), g)


def pos_name(p):
    return {"n": "noun", "v": "verb", "a": "adjective", "r": "adverb"}[p]


from demo_sft_text import T_DEFINE, T_COMPUTING, T_USAGE, T_EXPLAIN, T_COMPARE, T_SYNONYM, T_OPPOSITE, T_KINDOF, T_KINDOF_V, FOLLOW_EXAMPLE, FOLLOW_OTHER, FOLLOW_OPP, REFUSALS, HELDOUT_HARMFUL  # noqa: E402

def vary(rng, s):
    """Light variation of casing/punctuation."""
    r = rng.random()
    if r < 0.08:
        s = s.rstrip("?.!")
    elif r < 0.12:
        s = s[0].lower() + s[1:]
    return s


def fill(tmpl, **kw):
    for k, v in list(kw.items()):
        kw[k.upper()] = (v[0].upper() + v[1:]) if v else v
    out = tmpl
    for k, v in kw.items():
        out = out.replace("{%s}" % k, v)
    return out[0].upper() + out[1:] if out[0].isalpha() else out


# ---------------------------------------------------------------- generators


GENERIC = set("""that with which what from into used being having something someone
state quality more than other their make made very large small part such kind form
especially usually often typically""".split())


def overlap(g1, g2):
    """Do two glosses share a content word (so that comparing them makes sense)?"""
    w1 = {w for w in re.findall(r"[a-z]{4,}", g1.lower()) if w not in GENERIC}
    w2 = {w for w in re.findall(r"[a-z]{4,}", g2.lower()) if w not in GENERIC}
    return bool(w1 & w2)


class Gen:
    def __init__(self, rng, syn, words, foldoc):
        self.rng = rng
        self.syn = syn
        self.words = words
        self.st = Style(rng)
        self.foldoc = foldoc
        self.freq = {}
        self.used = set()          # terms used by earlier splits / chats in this split
        self.reserved = set()      # terms used by any split (kept out of later splits)

    # helpers ------------------------------------------------------
    def lemma_word(self, ss, lemma):
        return self.words.get((lemma, ss.pos))

    def free(self, w):
        return w not in self.reserved

    def take(self, *ws):
        for w in ws:
            self.used.add(w)

    def example(self, wd):
        return wd.examples[0] if wd.examples else None

    def hypernym(self, wd):
        for sym, off, pos, _, _ in wd.ss.ptrs:
            if sym in ("@", "@i") and pos == wd.pos:
                h = self.syn[pos][off]
                for w in h.words:
                    w = w.replace("_", " ")
                    if re.fullmatch(r"[a-z][a-z ]{2,20}", w) and len(w.split()) <= 2:
                        return w, h
        return None, None

    def hyponyms(self, wd, n=3):
        out = []
        for sym, off, pos, _, _ in wd.ss.ptrs:
            if sym in ("~",) and pos == wd.pos:
                h = self.syn[pos][off]
                w = h.words[0].replace("_", " ")
                if re.fullmatch(r"[a-z][a-z ]{2,18}", w) and len(w.split()) <= 2 and w not in BAD_WORDS:
                    out.append(w)
        self.rng.shuffle(out)
        return out[:n]

    def synonyms(self, wd):
        out = []
        for w in wd.ss.words:
            if w == wd.w or not re.fullmatch(r"[a-z]{3,14}", w) or w in BAD_WORDS:
                continue
            f = self.freq.get((w, wd.pos), 0)
            if f >= 1:  # a synonym that occurs in the sense-tagged corpus
                out.append((-f, w))
        return [w for _, w in sorted(out)]

    def antonym(self, wd):
        idx = wd.ss.words.index(wd.w) + 1 if wd.w in wd.ss.words else -1
        found = []
        for sym, off, pos, src, tgt in wd.ss.ptrs:
            if sym == "!" and src == idx:
                t = self.syn[pos][off]
                a = t.words[tgt - 1] if 0 < tgt <= len(t.words) else None
                if a and (a, wd.pos) in self.words and self.words[(a, wd.pos)].ss.off == off:
                    found.append(self.words[(a, wd.pos)])
        found.sort(key=lambda x: (-x.freq, x.w))
        return found[0] if found else None

    def sibling(self, wd):
        for sym, off, pos, _, _ in wd.ss.ptrs:
            if sym == "@" and pos == wd.pos:
                h = self.syn[pos][off]
                sibs = []
                for s2, o2, p2, _, _ in h.ptrs:
                    if s2 == "~" and p2 == pos and o2 != wd.ss.off:
                        c = self.syn[pos][o2]
                        for w in c.words:
                            cand = self.words.get((w, pos))
                            if (cand and cand.ss.off == o2 and cand.w != wd.w
                                    and overlap(wd.gloss, cand.gloss)):
                                sibs.append(cand)
                if sibs:
                    sibs.sort(key=lambda x: -x.freq)
                    hw = h.words[0].replace("_", " ")
                    return sibs[:4], hw
        return [], None

    # chats ----------------------------------------------------------
    def c_define(self, wd):
        t = self.rng.choice(T_DEFINE[wd.pos])
        qq = vary(self.rng, fill(t, w=wd.w, a=article(wd.w)))
        body = meaning(wd)
        ex = self.example(wd)
        if ex and self.rng.random() < 0.6:
            body += " For example: \"%s\"" % sentence(ex)
        return [qq], [self.st.answer(body)]

    def c_usage(self, wd):
        t = self.rng.choice(T_USAGE)
        qq = vary(self.rng, fill(t, w=wd.w))
        exs = wd.examples[:2]
        if len(exs) == 2 and self.rng.random() < 0.5:
            body = "Here are two example sentences with %s:\n\n1. %s\n2. %s\n\nHere, %s." % (
                q(wd.w), sentence(exs[0]), sentence(exs[1]), short_meaning(wd))
        else:
            body = "Here is an example sentence with %s: \"%s\" In this sentence, %s." % (
                q(wd.w), sentence(exs[0]), short_meaning(wd))
        return [qq], [self.st.answer(body)]

    def c_explain(self, wd):
        t = self.rng.choice(T_EXPLAIN)
        a = article(wd.w) + " " if wd.pos == "n" else ""
        if "{a}" in t and wd.pos != "n":
            t = "Tell me about {w}."
        qq = vary(self.rng, fill(t, w=wd.w, a=a))
        body = meaning(wd)
        hw, _ = self.hypernym(wd)
        if hw and wd.pos == "n":
            body += " In other words, it is a kind of %s." % hw
        kinds = self.hyponyms(wd) if wd.pos == "n" else []
        if len(kinds) >= 2:
            body += " Some kinds of %s are:\n\n%s\n\n" % (wd.w, "\n".join(
                "%d. %s" % (i + 1, k.capitalize()) for i, k in enumerate(kinds)))
            body = body.rstrip()
        else:
            ex = self.example(wd)
            if ex:
                body += " For example: \"%s\"" % sentence(ex)
        return [qq], [self.st.answer(body)]

    def c_compare(self, wd, other, hw):
        t = self.rng.choice(T_COMPARE)
        if wd.pos != "n" and ("{a}" in t or "{b}" in t):
            t = "What is the difference between {x} and {y}?"
        qq = vary(self.rng, fill(t, x=wd.w, y=other.w,
                                 a=article(wd.w) + " " if wd.pos == "n" else "",
                                 b=article(other.w) + " " if wd.pos == "n" else ""))
        if wd.pos == "n":
            intro = "%s and %s are related: both are kinds of %s. The difference is:" % (
                q(wd.w[0].upper() + wd.w[1:]), q(other.w), hw)
        else:
            intro = "%s and %s are related words, but they differ:" % (q(wd.w), q(other.w))
        body = "%s\n\n1. %s\n2. %s" % (intro, sentence(short_meaning(wd)), sentence(short_meaning(other)))
        return [qq], [self.st.answer(body)]

    def c_synonym(self, wd, syns):
        t = self.rng.choice(T_SYNONYM)
        qq = vary(self.rng, fill(t, w=wd.w))
        if len(syns) >= 2 and self.rng.random() < 0.5:
            body = "Here are some words that mean the same as %s:\n\n%s\n\nThey all mean %s." % (
                q(wd.w), "\n".join("%d. %s" % (i + 1, s) for i, s in enumerate(syns[:3])),
                wd.gloss if wd.pos != "v" else "to " + wd.gloss)
        else:
            body = "A synonym for %s is %s. Both words mean %s." % (
                q(wd.w), q(syns[0]), wd.gloss if wd.pos != "v" else "to " + wd.gloss)
        ex = self.example(wd)
        if ex and self.rng.random() < 0.3:
            body += " For example: \"%s\"" % sentence(ex)
        return [qq], [self.st.answer(body)]

    def c_opposite(self, wd, ant):
        t = self.rng.choice(T_OPPOSITE)
        qq = vary(self.rng, fill(t, w=wd.w))
        body = "The opposite of %s is %s. %s, while %s." % (
            q(wd.w), q(ant.w), sentence(short_meaning(wd))[:-1], short_meaning(ant))
        return [qq], [self.st.answer(body)]

    def c_kindof(self, wd, hw, h):
        if wd.pos == "n":
            t = self.rng.choice(T_KINDOF)
            qq = vary(self.rng, fill(t, w=wd.w, a=article(wd.w)))
            body = "%s %s is a kind of %s. More precisely, %s." % (
                article(wd.w).capitalize(), wd.w, hw, short_meaning(wd))
        else:
            t = self.rng.choice(T_KINDOF_V)
            qq = vary(self.rng, fill(t, w=wd.w))
            body = "To %s is a way to %s. More precisely, %s." % (wd.w, hw, short_meaning(wd))
        return [qq], [self.st.answer(body)]

    def c_computing(self, term):
        name, d, _ = term
        art = ""
        m = re.match(r"(A|An) ", d) and not re.search(r"(ing|ware|ion|ity|ics|ment|ness)$", name)
        if m:
            art = article(name) + " "
        t = self.rng.choice(T_COMPUTING)
        qq = vary(self.rng, fill(t, t=name, a=art))
        first = d.split(". ")[0]
        rest = d[len(first):].lstrip(". ")
        if m:
            body = "In computing, %s%s is %s." % (art, name, lc1(first))
        else:
            body = "In computing, %s refers to %s." % (q(name), lc1(first))
        if rest:
            body += " " + sentence(rest)
        return [qq], [self.st.answer(body)]

    def c_multiturn(self, wd, kind, other):
        qs, ans = [], []
        a, b = self.c_define(wd)
        qs += a
        ans.append(self.st.answer(meaning(wd)))
        if kind in ("example", "example+other"):
            qs.append(self.rng.choice(FOLLOW_EXAMPLE))
            ans.append(self.st.answer("Here is an example sentence with %s: \"%s\"" % (
                q(wd.w), sentence(wd.examples[0]))))
        if kind in ("other", "example+other"):
            qs.append(fill(self.rng.choice(FOLLOW_OTHER), y=other.w))
            ans.append(self.st.answer(meaning(other)))
        if kind == "opposite":
            qs.append(self.rng.choice(FOLLOW_OPP))
            ans.append(self.st.answer("The opposite of %s is %s. %s" % (
                q(wd.w), q(other.w), sentence(short_meaning(other)))))
        return qs, ans


def chat(qs, ans):
    msgs = []
    for a, b in zip(qs, ans):
        msgs.append({"role": "user", "content": a})
        msgs.append({"role": "assistant", "content": b})
    return {"messages": msgs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="data/demo")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    syn, freq, first = load_wordnet()
    words = build_words(syn, freq, first)
    foldoc = load_foldoc()
    rng = random.Random(args.seed)
    g = Gen(rng, syn, words, foldoc)
    g.freq = freq

    # candidate pools, ordered: most common first then shuffled within frequency bands
    def banded(items, key):
        items = sorted(items, key=key)
        out = []
        for i in range(0, len(items), 150):
            band = items[i:i + 150]
            rng.shuffle(band)
            out += band
        return out

    allw = banded(list(words.values()), key=lambda w: (-w.freq, w.w, w.pos))
    pools = {
        "define": allw,
        "usage": [w for w in allw if w.examples],
        "explain": [w for w in allw if w.pos == "n"] + [w for w in allw if w.pos != "n"],
        "synonym": [w for w in allw if g.synonyms(w)],
        "opposite": [w for w in allw if g.antonym(w)],
        "kindof": [w for w in allw if w.pos in "nv" and g.hypernym(w)[0]],
        "compare": [w for w in allw if w.pos == "n" and g.sibling(w)[0]],
        "multiturn": [w for w in allw if w.examples and g.sibling(w)[0]],
    }
    comp = [t for t in foldoc if t[2] >= 3]
    comp = banded(comp, key=lambda t: (-t[2], t[0]))
    # WordNet words and FOLDOC terms share one namespace of "terms"

    reserved = set()   # every term used by an earlier split

    def pick(pool, split_used, cond=lambda x: True, key=lambda x: x.w):
        for x in pool:
            k = key(x)
            if k in reserved or k in split_used or not cond(x):
                continue
            return x
        die("ran out of terms (pool of %d)" % len(pool))

    def make_split(counts, heldout=False):
        used = set()
        chats, cats = [], []

        def mark(*ks):
            for k in ks:
                used.add(k.lower() if isinstance(k, str) else k)

        for cat, n in counts.items():
            for _ in range(n):
                if cat == "refusal":
                    continue
                if cat == "harmful":
                    continue
                if cat == "computing":
                    t = pick(comp, used, key=lambda t: t[0].lower())
                    mark(t[0])
                    qs, ans = g.c_computing(t)
                elif cat == "compare":
                    def ok(w):
                        sibs, _ = g.sibling(w)
                        return any(s.w not in reserved and s.w not in used for s in sibs)
                    w = pick(pools[cat], used, ok)
                    sibs, hw = g.sibling(w)
                    o = [s for s in sibs if s.w not in reserved and s.w not in used][0]
                    mark(w.w, o.w)
                    qs, ans = g.c_compare(w, o, hw)
                elif cat == "synonym":
                    w = pick(pools[cat], used, lambda w: all(s not in reserved for s in g.synonyms(w)))
                    mark(w.w)
                    qs, ans = g.c_synonym(w, g.synonyms(w))
                elif cat == "opposite":
                    w = pick(pools[cat], used, lambda w: g.antonym(w).w not in reserved
                             and g.antonym(w).w not in used)
                    a = g.antonym(w)
                    mark(w.w, a.w)
                    qs, ans = g.c_opposite(w, a)
                elif cat == "kindof":
                    w = pick(pools[cat], used)
                    hw, h = g.hypernym(w)
                    mark(w.w)
                    qs, ans = g.c_kindof(w, hw, h)
                elif cat == "multiturn":
                    kind = rng.choice(["example", "other", "example+other", "opposite",
                                       "example+other"])
                    if kind == "opposite":
                        w = pick(pools["opposite"], used, lambda w: g.antonym(w).w not in reserved
                                 and g.antonym(w).w not in used)
                        o = g.antonym(w)
                        if not w.examples:
                            pass
                    else:
                        def ok(w):
                            sibs, _ = g.sibling(w)
                            return w.examples and any(s.w not in reserved and s.w not in used for s in sibs)
                        w = pick(pools["multiturn"], used, ok)
                        sibs, _ = g.sibling(w)
                        o = [s for s in sibs if s.w not in reserved and s.w not in used][0]
                    mark(w.w, o.w)
                    qs, ans = g.c_multiturn(w, kind, o)
                else:
                    w = pick(pools[cat], used)
                    mark(w.w)
                    qs, ans = getattr(g, "c_" + cat)(w)
                chats.append(chat(qs, ans))
                cats.append(cat)
        return chats, cats, used

    out = args.out
    os.makedirs(out, exist_ok=True)

    # held-out first (so it gets its pick of common words), then dev, then sft
    h_chats, h_cats, h_used = make_split({k: v for k, v in N_HELDOUT.items()}, heldout=True)
    reserved |= h_used
    d_chats, d_cats, d_used = make_split(N_DEV)
    reserved |= d_used
    s_chats, s_cats, s_used = make_split(N_SFT)
    if (h_used & d_used) or (h_used & s_used) or (d_used & s_used):
        die("internal error: a term is in two splits")

    # refusals: 12 in sft, 1 in dev
    refs = REFUSALS[:]
    rng.shuffle(refs)
    st = g.st
    for qq, body in refs[:N_SFT["refusal"]]:
        s_chats.append(chat([qq], [body]))
        s_cats.append("refusal")
    for qq, body in refs[N_SFT["refusal"]:N_SFT["refusal"] + N_DEV["refusal"]]:
        d_chats.append(chat([qq], [body]))
        d_cats.append("refusal")

    # shuffle chat order (keep categories aligned)
    def shuffled(ch, ca):
        z = list(zip(ch, ca))
        rng.shuffle(z)
        return [a for a, _ in z], [b for _, b in z]

    s_chats, s_cats = shuffled(s_chats, s_cats)
    d_chats, d_cats = shuffled(d_chats, d_cats)

    with open(os.path.join(out, "sft.jsonl"), "w") as f:
        for c in s_chats:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "dev.jsonl"), "w") as f:
        for c in d_chats:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")

    # held-out prompts: the first user turn of each held-out chat, plus 2 harmful ones
    prompts = [(c["messages"][0]["content"], cat) for c, cat in zip(h_chats, h_cats)]
    prompts += [(p, "harmful") for p in HELDOUT_HARMFUL]
    with open(os.path.join(out, "heldout.jsonl"), "w") as f:
        for i, (p, cat) in enumerate(prompts):
            f.write(json.dumps({"id": "heldout-%02d" % (i + 1), "instruction": p,
                                "category": cat}, ensure_ascii=False) + "\n")
    # reference answers for the held-out prompts (same style; for reading the demo's output)
    with open(os.path.join(out, "heldout-ref.jsonl"), "w") as f:
        for i, c in enumerate(h_chats):
            f.write(json.dumps({"id": "heldout-%02d" % (i + 1),
                                "reference": c["messages"][1]["content"]}, ensure_ascii=False) + "\n")
    def tidy(cat):  # the first well-punctuated held-out prompt of a category
        return next(p for p, c in prompts if c == cat and p.endswith("?") and p[0].isupper())
    picks = [tidy("define"), tidy("computing"), tidy("opposite")]
    with open(os.path.join(out, "questions.txt"), "w") as f:
        f.write("\n".join(picks) + "\n")

    write_urial(out, g, words, foldoc, h_used)

    # stats
    def nwords(s):
        return len(s.split())

    ans = [m["content"] for c in s_chats for m in c["messages"] if m["role"] == "assistant"]
    per = {}
    for c in s_cats:
        per[c] = per.get(c, 0) + 1
    chars = [sum(len(m["content"]) for m in c["messages"]) for c in s_chats]
    stats = {
        "chats": len(s_chats),
        "categories": per,
        "multi_turn": sum(1 for c in s_chats if len(c["messages"]) > 2),
        "refusals": per.get("refusal", 0),
        "assistant_turns": len(ans),
        "mean_words_per_answer": round(sum(map(nwords, ans)) / len(ans), 1),
        "max_words_per_answer": max(map(nwords, ans)),
        "max_words_per_chat": max(sum(nwords(m["content"]) for m in c["messages"]) for c in s_chats),
        "max_chars_per_chat": max(chars),
        "dev_chats": len(d_chats),
        "dev_categories": {k: d_cats.count(k) for k in sorted(set(d_cats))},
        "heldout_prompts": len(prompts),
        "heldout_categories": {k: [c for _, c in prompts].count(k) for k in N_HELDOUT},
        "seed": args.seed,
    }
    with open(os.path.join(out, "sft-stats.json"), "w") as f:
        json.dump(stats, f, indent=2)
        f.write("\n")
    print("demo_sft: %d sft chats, %d dev chats, %d held-out prompts -> %s" % (
        len(s_chats), len(d_chats), len(prompts), out))


URIAL_SYSTEM = (
    "Here are some conversations between a person and a helpful AI assistant (you). \n"
    "The person's questions appear under \"# Query:\" and the assistant's replies under \"# Answer:\". \n"
    "The assistant explains words and computing terms clearly and briefly, gives examples, "
    "and politely declines harmful requests. \n"
    "Each reply starts by addressing the question and ends by offering more help."
)


URIAL_TERM = "buffer"


def write_urial(out, g, words, foldoc, avoid_heldout):
    """K=3 examples: a word meaning, a computing term, an opposite; terms outside held-out."""
    st = Style(random.Random(11))
    g2 = Gen(random.Random(11), g.syn, words, foldoc)
    g2.st = st
    g2.freq = g.freq
    ex = []
    # fixed, common terms (checked to be present and not held out)
    w = words.get(("garden", "n"))
    term = next((t for t in foldoc if t[0] == URIAL_TERM), None)
    if term is None:
        die("URIAL example term %r missing from FOLDOC" % URIAL_TERM)
    o = words.get(("early", "a"))
    for name in ("garden", URIAL_TERM, "early"):
        if name in avoid_heldout:
            die("URIAL example term %r is a held-out term" % name)
    if not w or not o:
        die("URIAL example terms missing from WordNet")
    ex.append(("What does garden mean?", st.answer(
        meaning(w) + " For example, many people grow vegetables, herbs and flowers in a garden.")))
    _, a = g2.c_computing(term)
    ex.append(("What is %s %s in computing?" % (article(URIAL_TERM), URIAL_TERM), a[0]))
    ant = g2.antonym(o)
    _, a = g2.c_opposite(o, ant)
    ex.append(("What is the opposite of early?", a[0]))
    parts = ["# Instruction\n\n" + URIAL_SYSTEM + "\n"]
    for qq, aa in ex:
        parts.append("# Query:\n```\n%s\n```\n\n# Answer:\n```\n%s\n```\n" % (qq, aa))
    with open(os.path.join(out, "urial-demo.txt"), "w") as f:
        f.write("\n".join(parts))
    return ex


if __name__ == "__main__":
    main()
