#!/usr/bin/env python3
"""Draw training curves from urial's log.jsonl files as one self-contained SVG.

usage: tools/train_curves.py PRETRAIN/log.jsonl SFT/log.jsonl OUT.svg

One panel per log: the training loss per step (thin line, and its 20-step moving average) and the
dev loss where it was measured (dots). Python 3 standard library only.
"""
import json
import sys

W, H, PAD = 460, 300, 46


def read(path):
    steps, dev = [], []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                sys.exit(f"train_curves: {path}:{n}: not JSON")
            if "dev_loss" in r and r["dev_loss"] is not None:
                dev.append((r["step"], r["dev_loss"]))
            elif "loss" in r:
                steps.append((r["step"], r["loss"]))
    if not steps:
        sys.exit(f"train_curves: {path}: no training steps")
    return steps, dev


def panel(x0, title, steps, dev):
    xs = [s for s, _ in steps] + [s for s, _ in dev]
    ys = [l for _, l in steps] + [l for _, l in dev]
    xmax, ymin, ymax = max(xs), min(ys), max(ys)
    ymin = max(0.0, ymin - 0.1 * (ymax - ymin))

    def X(s):
        return x0 + PAD + (W - PAD - 10) * s / xmax

    def Y(l):
        return 30 + (H - 30 - PAD) * (1 - (l - ymin) / (ymax - ymin + 1e-9))

    out = [f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<rect x="{x0 + PAD}" y="30" width="{W - PAD - 10}" height="{H - 30 - PAD}" fill="none" stroke="#999"/>']
    for i in range(5):
        l = ymin + (ymax - ymin) * i / 4
        out.append(f'<text x="{x0 + PAD - 4}" y="{Y(l) + 4:.1f}" text-anchor="end">{l:.1f}</text>')
        s = xmax * i / 4
        out.append(f'<text x="{X(s):.1f}" y="{H - PAD + 16}" text-anchor="middle">{s:.0f}</text>')
    out.append(f'<text x="{x0 + W / 2}" y="{H - 8}" text-anchor="middle">optimizer step</text>')
    pts = " ".join(f"{X(s):.1f},{Y(l):.1f}" for s, l in steps)
    out.append(f'<polyline points="{pts}" fill="none" stroke="#9ec5e8" stroke-width="1"/>')
    avg, win = [], []
    for s, l in steps:
        win = (win + [l])[-20:]
        avg.append((s, sum(win) / len(win)))
    pts = " ".join(f"{X(s):.1f},{Y(l):.1f}" for s, l in avg)
    out.append(f'<polyline points="{pts}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    for s, l in dev:
        out.append(f'<circle cx="{X(s):.1f}" cy="{Y(l):.1f}" r="4" fill="#d2553c"><title>step {s}: dev loss {l:.3f}</title></circle>')
    lx = x0 + W - 170
    out.append(f'<line x1="{lx}" y1="44" x2="{lx + 20}" y2="44" stroke="#1f5fa8" stroke-width="2"/>'
               f'<text x="{lx + 25}" y="48">train loss (20-step mean)</text>'
               f'<circle cx="{lx + 10}" cy="62" r="4" fill="#d2553c"/><text x="{lx + 25}" y="66">dev loss</text>')
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().split("\n")[2])
    pre, sft = read(sys.argv[1]), read(sys.argv[2])
    body = panel(0, "Pretraining (urial train): urial-demo-base", *pre)
    body += panel(W + 20, "SFT (urial sft, 15 epochs): urial-demo-chat", *sft)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W + 20}" height="{H}" '
           f'font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n'
           + "\n".join(body) + "\n</svg>\n")
    with open(sys.argv[3], "w") as fh:
        fh.write(svg)


if __name__ == "__main__":
    main()
