#!/usr/bin/env python3
"""Reference draws of Python's random module for tests/unit/test_pyrandom.c.

For each seed: the first 8 getrandbits(32) outputs and the first 8 random() values
(printed with repr, which reads back exactly), then the 1000th random(); and the
A/B coins of the URIAL authors' evaluate/eval.py (random.seed(42), then
random.random() < 0.5 per item: True = the model's output shown as A) for 40 items.
Run: python3 tests/ref/pyrandom/gen.py > tests/ref/pyrandom/draws.txt
"""
import random

for seed in (0, 1, 42, 12345, 2**32 - 1, 2**32, 2**40 + 7, 2**63 + 5):
    random.seed(seed)
    u = [random.getrandbits(32) for _ in range(8)]
    random.seed(seed)
    f = [random.random() for _ in range(1000)]
    print("seed", seed)
    print("u32", *u)
    print("random", *[repr(x) for x in f[:8]])
    print("random1000", repr(f[999]))

random.seed(42)
print("coins42", "".join("A" if random.random() < 0.5 else "B" for _ in range(40)))
