#!/usr/bin/env bash
# The converter on quantizers' checkpoints, checked from the outside: usage:
#   quant_test.sh INT4PACK PYTHON QUANT_FORMATS_PY
#
# quant_formats.py (json and numpy only; no code shared with the tool) writes tiny compressed-tensors,
# GPTQ, AWQ and msModelSlim checkpoints from one underlying (Qs, S, Zs) per layer and checks what the tool
# writes from them: the packed weights byte for byte, scales, offsets and act-order permutations, the
# records, the pass-through tensors. Every check is counted; the script exits 1 when any failed.
set -u
source "$(dirname "$0")/harness.sh"
harness_start quant-test "$@"
qf() { "$PY" "$IO" "$@"; }
sums() { find "$@" -type f | sort | xargs md5sum; }  # sums PATH...: every file's checksum

# ---------------------------------------------------------------------------------------------------
section "every format and variant, to ND and NZ, INT4 and INT32, checked and verified with the matmul"
variants=(
  "compressed-tensors --asym"
  "compressed-tensors --asym --actorder"
  "compressed-tensors --channel --act bfloat16"
  "gptq"
  "gptq --asym"
  "gptq --asym --v2 --actorder"
  "gptq --channel"
  "awq --asym"
  "awq --channel"
  "msmodelslim --asym"
  "msmodelslim --channel"
)
i=0
for v in "${variants[@]}"; do
  read -r -a args <<<"$v"
  format=${args[0]}
  opts=("${args[@]:1}")
  i=$((i + 1))
  src=src$i
  qf make "$format" "$src" "${opts[@]}" || bad "make $v"
  for layout in nd nz; do
    for dtype in int4 int32; do
      out=out$i-$layout-$dtype
      run 0 convert "$src" "$out" --format "$layout" --dtype "$dtype" --quiet
      later check "$format" "$src" "$out" --format "$layout" --dtype "$dtype" "${opts[@]}"
    done
    run 0 verify "$src" "out$i-$layout-int4" --matmul --quiet
    run 0 verify "$src" "out$i-$layout-int32" --matmul --json
    json_ok "j['failures'] == 0 and sum(t['status'] == 'matmul ok' for t in j['tensors']) == 2"
  done
done
flush

section "every format gives the same bytes for the same layer"
for f in compressed-tensors gptq awq msmodelslim; do
  extra=()
  if [ "$f" = gptq ]; then extra=(--v2); fi
  qf make "$f" "same-$f" --asym "${extra[@]}" || bad "make $f"
  run 0 convert "same-$f" "same-$f-out" --format nz --quiet
done
check "identical P.weight, antiquant_scale and antiquant_offset from every format" "$PY" -c '
import sys
sys.path.insert(0, sys.argv[1])
import safetensors_io as st, quant_formats
outs = [st.read(d + "/" + n)[1] for d, n in zip(sys.argv[2:], ["model.safetensors"] * 3 + ["quant_model_weight_w4a16.safetensors"])]
names = [k for k in outs[0] if k.endswith((".weight", ".antiquant_scale", ".antiquant_offset")) and "layers" in k]
assert len(names) == 6, names
for k in names:
    assert all(o[k] == outs[0][k] for o in outs[1:]), k
' "$HERE" same-compressed-tensors-out same-gptq-out same-awq-out same-msmodelslim-out

section "a flipped offset sign fails verify --matmul"
qf make gptq tamper --asym
run 0 convert tamper tamper-out --format nz --quiet
qf tamper-offset tamper-out || bad "tamper-offset"
run 1 verify tamper tamper-out --matmul
out_has "MATMUL     model.layers.0.mlp.down_proj" "FAILED"

section "--format auto, --act-dtype, options that do not apply"
qf make gptq g32 --asym --group 32
run 0 convert g32 g32-auto --format auto --quiet
later check gptq g32 g32-auto --format nd --dtype int4 --asym --group 32
run nonzero convert g32 g32-nz --format nz
err_has "layer 'model.layers.0.mlp.down_proj'" "FRACTAL_NZ per-group needs group size 64 or 128, not 32" "nothing was written"
absent g32-nz
run 0 convert src5 bf16-out --act-dtype bfloat16 --quiet
later check gptq src5 bf16-out --format nd --dtype int4 --asym --expect-act bfloat16
run 0 verify src5 bf16-out --matmul --quiet
run nonzero convert src5 transposed --transpose
err_has "--transpose and --input apply to int4 carriers"
run nonzero convert src5 forced --from awq
err_has "(awq):" "nothing was written"
run 0 convert src5 forced-gptq --from gptq --quiet
later check gptq src5 forced-gptq --format nd --dtype int4 --asym
flush

section "inspect"
run 0 inspect src6
out_has "format: gptq" "model.layers.0.mlp.down_proj" "asymmetric" "perm"
run 0 inspect out6-nz-int4 --json
json_ok "j['format'] == 'int4pack output of gptq' and j['layers'][0]['group_size'] == 64 and not j['layers'][0]['symmetric']"
run 0 inspect src9 --json
json_ok "all(l['group_size'] == 0 and l['source_format'] == 'awq' for l in j['layers'])"

section "a layer whose tensors lie in two shards"
qf make gptq sharded-src --asym || bad "make"
check "split into two shards with an index" "$PY" -c '
import json, os, sys
sys.path.insert(0, sys.argv[1])
import safetensors_io as st
d = sys.argv[2]
meta, t = st.read(d + "/model.safetensors")
os.remove(d + "/model.safetensors")
first = {k: v for k, v in t.items() if k.endswith(".qweight") or "embed" in k}
second = {k: v for k, v in t.items() if k not in first}
st.write(d + "/model-00001-of-00002.safetensors", first, meta)
st.write(d + "/model-00002-of-00002.safetensors", second, meta)
wm = {k: "model-00001-of-00002.safetensors" for k in first}
wm.update({k: "model-00002-of-00002.safetensors" for k in second})
json.dump({"metadata": {}, "weight_map": wm}, open(d + "/model.safetensors.index.json", "w"))
' "$HERE" sharded-src
run 0 convert sharded-src sharded-out --format nz --quiet
run 0 verify sharded-src sharded-out --matmul --quiet
check "the index maps the outputs to the weight's shard and drops the source tensors" "$PY" -c '
import json, sys
wm = json.load(open(sys.argv[1] + "/model.safetensors.index.json"))["weight_map"]
p = "model.layers.0.mlp.down_proj"
assert wm[p + ".weight"] == wm[p + ".antiquant_scale"] == wm[p + ".antiquant_offset"] == "model-00001-of-00002.safetensors", wm
assert not any(k.endswith((".qweight", ".qzeros", ".scales", ".g_idx")) for k in wm), wm
assert wm[p + ".bias"] == "model-00002-of-00002.safetensors", wm
' sharded-out

section "checkpoints the converter must refuse"
for c in $(qf bad-cases); do
  qf make-bad "$c" "bad-$c" || bad "make-bad $c"
  before=$(sums "bad-$c")
  run nonzero convert "bad-$c" "bad-$c-out"
  err_has "layer 'model.layers.0." "nothing was written"
  absent "bad-$c-out"
  if [ "$(sums "bad-$c")" = "$before" ]; then ok; else bad "refusing bad-$c changed its input"; fi
done

section "the output is never the input"
before=$(sums src5)
run nonzero convert src5/model.safetensors src5/model.safetensors --force
err_has "is the input"
run nonzero convert src5 src5 --force
err_has "is the input"
ln -s src5 src5-link
run nonzero convert src5 src5-link --force
err_has "is the input"
run nonzero convert src5 src5/nested
err_has "lies inside the input"
run nonzero convert src5/model.safetensors src5 --force
err_has "contains the input"
run nonzero unpack out5-nd-int4 out5-nd-int4 --force
err_has "is the input"
if [ "$(sums src5)" = "$before" ] && [ ! -e src5/nested ]; then ok; else bad "a refused output changed its input"; fi

finish quant_test
