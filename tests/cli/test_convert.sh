#!/usr/bin/env bash
# urial convert end to end: a small Hugging Face checkpoint (written by build/tests/test_convert
# --write-hf: config.json, tokenizer.json, safetensors) converts, runs, quantizes; the shards of a
# sharded checkpoint give the same file as one; one-line errors. (Logits against PyTorch and
# llama.cpp: tests/unit/test_convert.c.)
source "$(dirname "$0")/lib.sh"
W=${BUILD:-build}/tests/test_convert
"$URIAL" convert --help | grep -q "usage: urial convert HF_DIR OUT.gguf" && pass help || fail help
if [ ! -x "$W" ]; then
    skip convert_suite "no $W (make $W)"
    exit 0
fi
"$W" --write-hf "$TMP/hf" >/dev/null
ok convert_llama "$URIAL" convert "$TMP/hf/llama" "$TMP/l.gguf"
grep -q "wrote .*l.gguf (llama, 2 layers" "$TMP/err" && pass says_what || fail says_what "$(cat "$TMP/err")"
[ "$("$URIAL" info "$TMP/l.gguf" --json | jq -c '[.architecture, .n_layers, .n_kv_heads, (.tensor_types|keys)]')" = \
    '["llama",2,2,["f16","f32"]]' ] && pass f16_default || fail f16_default "$("$URIAL" info "$TMP/l.gguf" --json | head -c 300)"
"$URIAL" generate -m "$TMP/l.gguf" -p "abc" -n 4 --temp 0 >/dev/null 2>&1 && pass runs || fail runs
ok quantizes "$URIAL" quantize "$TMP/l.gguf" "$TMP/lq.gguf" q8_0
for a in qwen2 qwen3 gemma2 gemma3 olmo2 phi3; do
    "$URIAL" convert "$TMP/hf/$a" "$TMP/$a.gguf" --type q8_0 2>"$TMP/err" &&
        "$URIAL" logits -m "$TMP/$a.gguf" --ids 1,5,9 --top 2 >/dev/null 2>&1 && pass "converts_$a" || fail "converts_$a" "$(cat "$TMP/err")"
done
# the 3 shards of mistral-f16 against the same tensors in one file: the same GGUF
mkdir -p "$TMP/one"
cp "$TMP/hf/mistral-f16"/*.json "$TMP/one/"
rm "$TMP/one/model.safetensors.index.json"
python3 - "$TMP/hf/mistral-f16" "$TMP/one/model.safetensors" <<'PY' 2>/dev/null || skip shards_equal_one "no python3"
import json, struct, sys, os
d, out = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))["weight_map"]
hdr, blobs, off = {}, [], 0
for name in idx:
    raw = open(os.path.join(d, idx[name]), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])[name]
    b, e = h["data_offsets"]
    data = raw[8 + n + b:8 + n + e]
    hdr[name] = {"dtype": h["dtype"], "shape": h["shape"], "data_offsets": [off, off + len(data)]}
    blobs.append(data); off += len(data)
t = json.dumps(hdr).encode()
t += b" " * ((8 - len(t) % 8) % 8)
open(out, "wb").write(struct.pack("<Q", len(t)) + t + b"".join(blobs))
PY
if [ -f "$TMP/one/model.safetensors" ]; then
    "$URIAL" convert "$TMP/hf/mistral-f16" "$TMP/s.gguf" --name m 2>/dev/null
    "$URIAL" convert "$TMP/one" "$TMP/o.gguf" --name m 2>/dev/null
    cmp -s "$TMP/s.gguf" "$TMP/o.gguf" && pass shards_equal_one || fail shards_equal_one
fi
# errors
fails_with no_dir "nope/config.json" "$URIAL" convert "$TMP/nope" "$TMP/x.gguf"
fails_with bad_type "unknown type 'q9'" "$URIAL" convert "$TMP/hf/llama" "$TMP/x.gguf" --type q9
cp -r "$TMP/hf/llama" "$TMP/bad"
echo '{"architectures": ["BertModel"], "hidden_size": 8}' >"$TMP/bad/config.json"
fails_with unknown_arch "architecture 'BertModel' is not one urial runs" "$URIAL" convert "$TMP/bad" "$TMP/x.gguf"
cp "$TMP/hf/llama/config.json" "$TMP/bad/"
printf 'garbage' >"$TMP/bad/model.safetensors"
fails_with bad_safetensors "bad/model.safetensors: not a safetensors file" "$URIAL" convert "$TMP/bad" "$TMP/x.gguf"
fails_with args "expected HF_DIR OUT.gguf|argument" "$URIAL" convert "$TMP/bad"
[ ! -e "$TMP/x.gguf" ] && pass no_output_on_error || fail no_output_on_error
