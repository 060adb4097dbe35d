#!/usr/bin/env python3
"""Write a SentencePiece BPE vocabulary as a vocabulary-only GGUF (a `llama` tokenizer).

usage: tools/demo_vocab.py SPM.vocab OUT.gguf [--name NAME]

SPM.vocab is `spm_export_vocab --output_format=vocab` output (piece TAB score, in id order).
Token types as llama.cpp expects: <unk> unknown (2), <s> and </s> control (3), <0xNN> byte (6),
the rest normal (1). BOS 1, EOS 2, UNK 0, a BOS before every text and no EOS. The file has no
tensors; `urial train --tokenizer OUT.gguf` copies its tokenizer.* keys into every checkpoint.
The GGUF v3 layout is written here directly (Python 3 standard library only).
"""
import argparse
import struct
import sys

U32, I32, F32, BOOL, STR, ARR = 4, 5, 6, 7, 8, 9


def gstr(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, typ, val):
    out = gstr(key) + struct.pack("<I", typ)
    if typ == STR:
        return out + gstr(val)
    if typ == U32:
        return out + struct.pack("<I", val)
    if typ == BOOL:
        return out + struct.pack("<B", 1 if val else 0)
    elem, items = val
    out += struct.pack("<IQ", elem, len(items))
    if elem == STR:
        return out + b"".join(gstr(x) for x in items)
    if elem == F32:
        return out + struct.pack("<%df" % len(items), *items)
    return out + struct.pack("<%di" % len(items), *items)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("vocab")
    ap.add_argument("out")
    ap.add_argument("--name", default="urial-demo-vocab")
    a = ap.parse_args()
    tokens, scores, types = [], [], []
    with open(a.vocab, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            piece, tab, score = line.rstrip("\n").rpartition("\t")
            if not tab:
                sys.exit(f"demo_vocab: {a.vocab}:{n}: expected 'piece<TAB>score'")
            tokens.append(piece)
            scores.append(float(score))
            if piece == "<unk>":
                types.append(2)
            elif piece in ("<s>", "</s>"):
                types.append(3)
            elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                types.append(6)
            else:
                types.append(1)
    if tokens[:3] != ["<unk>", "<s>", "</s>"]:
        sys.exit(f"demo_vocab: {a.vocab}: ids 0-2 must be <unk> <s> </s>")
    kvs = [kv("general.architecture", STR, "llama"), kv("general.name", STR, a.name),
           kv("tokenizer.ggml.model", STR, "llama"),
           kv("tokenizer.ggml.tokens", ARR, (STR, tokens)),
           kv("tokenizer.ggml.scores", ARR, (F32, scores)),
           kv("tokenizer.ggml.token_type", ARR, (I32, types)),
           kv("tokenizer.ggml.bos_token_id", U32, 1), kv("tokenizer.ggml.eos_token_id", U32, 2),
           kv("tokenizer.ggml.unknown_token_id", U32, 0),
           kv("tokenizer.ggml.add_bos_token", BOOL, True), kv("tokenizer.ggml.add_eos_token", BOOL, False)]
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)
    body += b"\0" * (-len(body) % 32)
    with open(a.out, "wb") as fh:
        fh.write(body)
    print(f"{a.out}: {len(tokens)} tokens")


if __name__ == "__main__":
    main()
