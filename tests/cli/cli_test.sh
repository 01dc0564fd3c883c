#!/usr/bin/env bash
# int4pack end to end, checked from the outside: usage: cli_test.sh INT4PACK PYTHON SAFETENSORS_IO_PY
#
# Checkpoints are written, and the tool's output read back and re-derived, by safetensors_io.py (json,
# struct and numpy only; no code shared with the tool). Every check is counted; the script exits 1 when
# any failed, naming each.
set -u
source "$(dirname "$0")/harness.sh"
harness_start cli-test "$@"

# ---------------------------------------------------------------------------------------------------
section "help and usage"
run 0 --help
out_has convert unpack verify inspect demo
run 0 convert --help
out_has --format --dtype --include --exclude --transpose --input --threads --quiet --json --force
run nonzero
run nonzero convert only-one-argument
run nonzero convert a b --format xx
run nonzero convert a b --dtype int8
run nonzero convert a b --input unsigned
run nonzero convert a b --threads 0
run nonzero convert does-not-exist.safetensors out.safetensors
one_error_line "missing input"
err_has does-not-exist.safetensors
absent out.safetensors

# ---------------------------------------------------------------------------------------------------
section "round trips: --format nd|nz x --dtype int4|int32 x [--transpose], aligned and misaligned data"
check "make-mixed" st make-mixed mixed.safetensors
check "make-mixed --unaligned" st make-mixed mixed-u.safetensors --unaligned
for src in mixed mixed-u; do
  for format in nd nz; do
    for dtype in int4 int32; do
      for transpose in "" --transpose; do
        tag="$src $format $dtype ${transpose:-plain}"
        p=p-$src-$format-$dtype$transpose.safetensors
        r=r-$src-$format-$dtype$transpose.safetensors
        run 0 convert $src.safetensors $p --format $format --dtype $dtype $transpose --quiet
        if [ -s "$W/out" ]; then bad "$tag: --quiet printed: $(head -1 "$W/out")"; else ok; fi
        later check-packed $src.safetensors $p --format $format --dtype $dtype $transpose
        run 0 unpack $p $r --quiet
        later same $src.safetensors $r
        run 0 verify $src.safetensors $p
        out_has "verified: 12 tensors (4 packed) checked, 0 failures"
      done
    done
  done
done
# Packing does not depend on the thread count.
run 0 convert mixed.safetensors t1.safetensors --format nz --threads 1 -q
run 0 convert mixed.safetensors t3.safetensors --format nz --threads 3 -q
check "--threads 1 and --threads 3 give the same file" cmp -s t1.safetensors t3.safetensors

section "--input offset8"
check "make-offset8" st make-offset8 offset8.safetensors
for format in nd nz; do
  for dtype in int4 int32; do
    p=o-$format-$dtype.safetensors
    run 0 convert offset8.safetensors $p --input offset8 --format $format --dtype $dtype -q
    later check-packed offset8.safetensors $p --input offset8 --format $format --dtype $dtype
    run 0 unpack $p ro-$format-$dtype.safetensors -q
    later same offset8.safetensors ro-$format-$dtype.safetensors
    run 0 verify offset8.safetensors $p -q
  done
done
# b.weight is 17 x 96: transposed its last dim is odd, so it cannot be packed; everything else can.
run nonzero convert offset8.safetensors ot.safetensors --input offset8 --transpose
err_has "'b.weight'" "multiple of 2" "nothing was written"
absent ot.safetensors
run 0 convert offset8.safetensors ot.safetensors --input offset8 --transpose --exclude '^b\.' --format nz -q
later check-packed offset8.safetensors ot.safetensors --input offset8 --transpose --format nz --exclude '^b\.'
run 0 unpack ot.safetensors rot.safetensors -q
later same offset8.safetensors rot.safetensors
run 0 verify offset8.safetensors ot.safetensors -q
# Read as signed, nothing in this file is an int4 weight (values up to 15).
run nonzero convert offset8.safetensors os.safetensors
one_error_line "nothing to pack"
err_has "no tensor to pack"
absent os.safetensors

section "--include / --exclude"
# --include packs exactly the matching tensors (here: a non-"weight" name, and only the I8 weight).
run 0 convert mixed.safetensors inc.safetensors --include '(v_proj\.weight|q_proj\.bias)$' -q
later check-packed mixed.safetensors inc.safetensors --include '(v_proj\.weight|q_proj\.bias)$'
run nonzero convert mixed.safetensors exc2.safetensors --exclude 'proj\.weight$' -q
err_has "no tensor to pack"
absent exc2.safetensors
run 0 convert mixed.safetensors exc3.safetensors --exclude '^layers\.0\.(q|k)_proj' -q
later check-packed mixed.safetensors exc3.safetensors --exclude '^layers\.0\.(q|k)_proj'
run nonzero convert mixed.safetensors rx.safetensors --include '(unclosed'
one_error_line "bad regex"
err_has "--include" "not a valid regular expression"
absent rx.safetensors
run nonzero convert mixed.safetensors none.safetensors --include 'no-such-tensor'
err_has "none matches --include"
absent none.safetensors

# ---------------------------------------------------------------------------------------------------
section "validation reports every problem and writes nothing"
check "make-two-bad" st make-two-bad two-bad.safetensors
run 1 convert two-bad.safetensors two-bad-out.safetensors --include 'weight$'
err_has "'first_bad.weight'" "element [2, 5] = 8 is outside [-8, 7]" "'second_bad.weight'" "element [5, 3] = -9" "2 problems"
absent two-bad-out.safetensors
# Dimension and dtype problems are reported along with value problems.
run 1 convert mixed.safetensors sel.safetensors --include '(big|embed|norm|empty)\.weight$'
err_has "'layers.0.big.weight'" "element [0, 3] = 100" "'embed.weight'" "F32" "'layers.0.norm.weight'" "not 2-D" \
  "'layers.0.empty.weight'" "empty" "4 problems"
absent sel.safetensors
# The extreme int32 values are out of range (and must not trip anything: the sanitized build aborts on UB).
check "make-extremes" st make-extremes extremes.safetensors
extremes_refused() {  # exit 1, both tensors named with their element and value, no output
  "$TOOL" convert extremes.safetensors extremes-out.safetensors --include 'weight$' >"$W/out" 2>"$W/err"
  [ $? -eq 1 ] && grep -qF "'max.weight': element [1, 6] = 2147483647 is outside [-8, 7]" "$W/err" &&
    grep -qF "'min.weight': element [0, 1] = -2147483648 is outside [-8, 7]" "$W/err" && [ ! -e extremes-out.safetensors ]
}
check "I32 values near INT32_MAX and INT32_MIN are refused with their element index (no overflow)" extremes_refused
absent extremes-out.safetensors
# Already packed tensors are not packed twice.
run 1 convert p-mixed-nd-int4.safetensors twice.safetensors
err_has "already packed"
absent twice.safetensors

section "existing output: refused without --force, replaced with it"
printf 'precious\n' >existing.safetensors
run nonzero convert mixed.safetensors existing.safetensors
err_has "already exists" "--force"
check "existing output untouched" grep -qx precious existing.safetensors
run 0 convert mixed.safetensors existing.safetensors --force -q
later check-packed mixed.safetensors existing.safetensors
no_temporaries "$W"
printf 'precious\n' >existing-r.safetensors
run nonzero unpack p-mixed-nd-int4.safetensors existing-r.safetensors
check "unpack: existing output untouched" grep -qx precious existing-r.safetensors
run 0 unpack p-mixed-nd-int4.safetensors existing-r.safetensors --force -q
later same mixed.safetensors existing-r.safetensors
flush

# ---------------------------------------------------------------------------------------------------
section "sharded checkpoints"
# The demo: a two-shard compressed-tensors checkpoint and a GPTQ one, converted to NZ and verified by the
# tool itself (bytes and matmul); the config and tokenizer files copied.
run 0 demo --dir demo -q
for pair in compressed-tensors-w4a16:compressed-tensors-nz gptq-w4a16-asym:gptq-nz; do
  D=demo/${pair%%:*}
  O=demo/${pair##*:}
  for f in config.json tokenizer.json; do
    check "demo: $f copied" cmp -s $D/$f $O/$f
  done
  run 0 verify $D $O --matmul
done
out_has "verified: 61 tensors (14 packed) checked, 0 failures"
# A three-shard checkpoint of our own, with other files: to int32 ND, transposed, and back.
check "make-sharded" st make-sharded sharded
run 0 convert sharded sharded-out --dtype int32 --transpose --json
json_ok 'j["packed_count"] == 4 and j["passed_through_count"] == 8 and len(j["packed"]) == 4'
for shard in model-00001-of-00003.safetensors model-00002-of-00003.safetensors model-00003-of-00003.safetensors; do
  later check-packed sharded/$shard sharded-out/$shard --dtype int32 --transpose
done
later check-index sharded sharded-out
check "sharded: the same files" diff <(ls sharded) <(ls sharded-out)
for f in config.json tokenizer.model; do
  check "sharded: $f copied" cmp -s sharded/$f sharded-out/$f
done
run 0 verify sharded sharded-out
out_has "verified: 12 tensors (4 packed) checked, 0 failures"
run 0 unpack sharded-out sharded-back -q
for shard in model-00001-of-00003.safetensors model-00002-of-00003.safetensors model-00003-of-00003.safetensors; do
  later same sharded/$shard sharded-back/$shard
done
check "sharded: unpack copies the other files" cmp -s sharded/tokenizer.model sharded-back/tokenizer.model
flush
# Other files in subdirectories (as in checkpoints with an original/ folder) are other files too.
cp -r sharded withsub
mkdir withsub/original
echo '{"dim": 128}' >withsub/original/params.json
run 0 convert withsub withsub-out -q
check "subdirectories of a checkpoint directory are copied" \
  cmp -s withsub/original/params.json withsub-out/original/params.json
# Directory output: refused if it exists, replaced with --force (nothing of the old one left).
run nonzero convert sharded sharded-out
err_has "already exists"
touch sharded-out/marker
run 0 convert sharded sharded-out --force --format nz -q
check "--force replaced the output directory" test ! -e sharded-out/marker
later check-packed sharded/model-00001-of-00003.safetensors sharded-out/model-00001-of-00003.safetensors --format nz
flush
no_temporaries "$W"
# A value out of range in the last shard, found after the first shards were written: every problem is
# reported, and neither the output directory nor its temporary is left behind.
cp -r sharded lastbad
"$PY" - lastbad/model-00003-of-00003.safetensors <<'PYEOF'
import json, struct, sys
path = sys.argv[1]  # element [0, 0] of layers.0.o_proj.weight (U8) becomes 100
with open(path, "r+b") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    t = json.loads(f.read(n))["layers.0.o_proj.weight"]
    assert t["dtype"] == "U8"
    f.seek(8 + n + t["data_offsets"][0])
    f.write(bytes([100]))
PYEOF
run 1 convert lastbad lastbad-out --include '_proj\.weight$' --threads 1
err_has "'layers.0.o_proj.weight': element [0, 0] = 100 is outside [-8, 7]" "1 problem found; nothing was written"
absent lastbad-out
no_temporaries "$W"
# --no-sync writes the same bytes (it only skips waiting for the disk).
run 0 convert sharded nosync-out --format nz --no-sync -q
run 0 convert sharded sync-out --format nz -q
for shard in model-00001-of-00003.safetensors model-00002-of-00003.safetensors model-00003-of-00003.safetensors; do
  check "--no-sync: $shard identical" cmp -s nosync-out/$shard sync-out/$shard
done
# A bad shard in a directory: one line naming it, no output directory.
cp -r sharded broken
head -c 1000 sharded/model-00002-of-00003.safetensors >broken/model-00002-of-00003.safetensors
run nonzero convert broken broken-out
one_error_line "bad shard"
err_has model-00002-of-00003.safetensors
absent broken-out
# An index naming a tensor that no shard has.
cp -r sharded badindex
"$PY" -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["weight_map"]["ghost.weight"]="model-00001-of-00003.safetensors"; json.dump(j, open(p, "w"))' \
  badindex/model.safetensors.index.json
run nonzero convert badindex badindex-out
one_error_line "bad index"
err_has "ghost.weight"
absent badindex-out

# ---------------------------------------------------------------------------------------------------
section "inspect, and --json of every subcommand"
run 0 inspect p-mixed-nz-int4--transpose.safetensors
out_has layers.0.q_proj.weight "int4 nz of I32 [48, 128] transposed" "12 tensors in 1 shard"
run 0 inspect p-mixed-nz-int4--transpose.safetensors --json
json_ok '[t["packed"] != "" for t in j["tensors"]].count(True) == 4 and len(j["tensors"]) == 12'
run 0 inspect demo/compressed-tensors-w4a16 --json
json_ok 'len(j["shards"]) == 2 and len(j["tensors"]) == 47 and len(j["layers"]) == 14 and j["format"] == "compressed-tensors"'
run 0 convert mixed.safetensors js.safetensors --json
json_ok 'j["command"] == "convert" and j["packed_count"] == 4 and j["passed_through_count"] == 8'
run 0 unpack js.safetensors jsu.safetensors --json
json_ok 'j["command"] == "unpack" and j["unpacked_count"] == 4'
run 0 verify mixed.safetensors js.safetensors --json
json_ok 'j["failures"] == 0 and j["packed_tensors_checked"] == 4 and len(j["tensors"]) == 12'

# ---------------------------------------------------------------------------------------------------
section "verify finds differences"
cp p-mixed-nz-int32.safetensors corrupt.safetensors
check "flip a packed byte" st flip-packed-byte corrupt.safetensors
run 1 verify mixed.safetensors corrupt.safetensors
out_has MISMATCH layers.0.q_proj.weight FAILED "first differing byte at offset 1536"
run 1 verify mixed.safetensors corrupt.safetensors --json
json_ok 'j["failures"] == 1 and [t["name"] for t in j["tensors"] if t["status"] == "MISMATCH"] == ["layers.0.q_proj.weight"]'
check "drop a tensor" st drop-tensor p-mixed-nd-int4.safetensors dropped.safetensors embed.weight
run 1 verify mixed.safetensors dropped.safetensors
out_has MISSING embed.weight
run 1 verify dropped.safetensors p-mixed-nd-int4.safetensors
out_has EXTRA embed.weight
# Verifying an unpacked file against the original: all pass-through, all the same.
run 0 verify mixed.safetensors r-mixed-nz-int4.safetensors -q
# A pass-through tensor that changed.
cp p-mixed-nd-int4.safetensors changed.safetensors
check "flip a pass-through byte" st flip-byte changed.safetensors embed.weight
run 1 verify mixed.safetensors changed.safetensors -q
out_has MISMATCH embed.weight
# An original whose value left the int4 range (a byte flipped by 16) cannot give the recorded pack.
cp mixed.safetensors mixed-bad.safetensors
check "flip an original byte" st flip-byte mixed-bad.safetensors layers.0.q_proj.weight
run 1 verify mixed-bad.safetensors p-mixed-nd-int4.safetensors -q
out_has MISMATCH layers.0.q_proj.weight "cannot be packed as recorded: a value lies outside the int4 range"

# ---------------------------------------------------------------------------------------------------
section "malformed files: one clear line, an error exit, no crash, nothing written"
# What each message must name.
declare -A says=(
  [truncated]="truncated" [truncated-data]="'w.weight'|out of bounds" [header-past-end]="past the end"
  [invalid-json]="not valid JSON" [out-of-bounds]="'w.weight'|out of bounds" [overlap]="'a.weight'|'b.weight'|overlap"
  [hole]="hole|'b.weight'" [length-mismatch]="'w.weight'|byte length 16|[2, 3]" [duplicate-name]="duplicate|'w.weight'"
  [unknown-dtype]="'w.weight'|unknown dtype" [header-over-100mb]="100 MB" [non-utf8-name]="UTF-8"
)
check "make-bad-all" st make-bad-all bad-
n=0
for case in $(st bad-cases); do
  f=bad-$case.safetensors
  check "bad file $f written" test -f $f
  run nonzero convert $f out-$case.safetensors
  one_error_line "convert $case"
  IFS='|' read -r -a parts <<<"${says[$case]:-no expectation for $case}"
  err_has "$f" "${parts[@]}"
  absent out-$case.safetensors
  run nonzero inspect $f
  one_error_line "inspect $case"
  run nonzero verify mixed.safetensors $f
  one_error_line "verify PACKED $case"
  n=$((n + 1))
  if [ $n -le 4 ]; then  # the same reader behind every subcommand; a few of each suffice
    run nonzero unpack $f out-$case.safetensors
    one_error_line "unpack $case"
    absent out-$case.safetensors
    run nonzero verify $f mixed.safetensors
    one_error_line "verify ORIGINAL $case"
  fi
done
if [ $n -eq ${#says[@]} ]; then ok; else bad "$n bad-file cases, expected ${#says[@]}"; fi
# Packed files whose int4pack record is unreadable, or does not fit its tensor.
check "bad record" st set-record p-mixed-nd-int4.safetensors badrecord.safetensors layers.0.k_proj.weight '{not json'
run nonzero unpack badrecord.safetensors badrecord-out.safetensors
one_error_line "unreadable record"
err_has "'layers.0.k_proj.weight'" "int4pack record is not valid"
absent badrecord-out.safetensors
check "wrong record" st set-record p-mixed-nd-int4.safetensors wrongrecord.safetensors layers.0.q_proj.weight \
  '{"format":"nd","dtype":"int4","view_shape":[48,256],"original_dtype":"I32","original_shape":[48,256],"transposed":false,"input":"signed","nibble_order":"low_first"}'
run nonzero unpack wrongrecord.safetensors wrongrecord-out.safetensors
one_error_line "record not fitting its tensor"
err_has "'layers.0.q_proj.weight'" "does not match its int4pack record"
absent wrongrecord-out.safetensors
run nonzero inspect badrecord.safetensors
one_error_line "inspect unreadable record"

# ---------------------------------------------------------------------------------------------------
section "SIGINT: exit 130, nothing left behind"
# interrupt NAME DELAY: starts a conversion of big.safetensors, sends SIGINT after DELAY seconds (or, for
# DELAY "tmp", as soon as the temporary output exists, i.e. in the middle of writing).
interrupt() {
  local out=$1 delay=$2 signal=${3:-INT} pid
  "$TOOL" convert big.safetensors "$out" --quiet >"$W/out" 2>"$W/err" &
  pid=$!
  if [ "$delay" = tmp ]; then
    for _ in $(seq 400); do
      if compgen -G "$out.int4pack-tmp-*" >/dev/null; then break; fi
      sleep 0.025
    done
    sleep 0.1
  else
    sleep "$delay"
  fi
  kill -"$signal" $pid
  wait $pid
  rc=$?
}
size=300
check "make-big" st make-big big.safetensors $size
for when in 0.2 tmp; do
  for _ in 1 2 3; do
    interrupt big-out.safetensors $when
    [ "$rc" -eq 0 ] || break
    echo "conversion finished before SIGINT ($when); again with a bigger input"
    rm -f big-out.safetensors
    size=$((size * 2))
    check "make-big" st make-big big.safetensors $size
  done
  if [ "$rc" -eq 130 ]; then ok; else bad "SIGINT ($when): exit $rc, wanted 130"; fi
  err_has interrupted
  absent big-out.safetensors
done
interrupt big-out.safetensors tmp TERM
if [ "$rc" -eq 143 ] || [ "$rc" -eq 0 ]; then ok; else bad "SIGTERM: exit $rc, wanted 143 (128 + 15)"; fi
if [ "$rc" -eq 143 ]; then absent big-out.safetensors; fi
section "faults: input truncated while read, file size limit, unwritable output"
input_sum=$(md5sum <big.safetensors)
# The input shrinks under the memory map while the conversion reads it: a clear line, exit 1, no output.
cp big.safetensors shrinking.safetensors
"$TOOL" convert shrinking.safetensors shrunk-out.safetensors --quiet --threads 1 >"$W/out" 2>"$W/err" &
pid=$!
for _ in $(seq 400); do
  if compgen -G "shrunk-out.safetensors.int4pack-tmp-*" >/dev/null; then break; fi
  sleep 0.01
done
truncate -s 4096 shrinking.safetensors
wait $pid
rc=$?
if [ "$rc" -eq 1 ]; then
  ok
  err_has "changed size while it was being read"
elif [ "$rc" -eq 0 ]; then
  echo "conversion finished before the truncation; not checked"
else
  bad "input truncated while read: exit $rc, wanted 1"
fi
absent shrunk-out.safetensors
rm -f shrinking.safetensors
# A file size limit stands for a full disk: the write fails, the error names it, nothing is left.
(ulimit -f 1024 && "$TOOL" convert big.safetensors limited-out.safetensors --quiet >"$W/out" 2>"$W/err")
rc=$?
if [ "$rc" -eq 1 ]; then ok; else bad "file size limit: exit $rc, wanted 1"; fi
err_has "write failed" "File too large"
absent limited-out.safetensors
# An output directory that cannot hold the output (its parent is a regular file; root ignores modes).
echo not-a-directory >plainfile
run nonzero convert big.safetensors plainfile/out.safetensors --quiet
err_has "cannot create"
absent plainfile/out.safetensors
if [ "$(md5sum <big.safetensors)" = "$input_sum" ]; then ok; else bad "a failed conversion changed its input"; fi
rm -f big.safetensors

# ---------------------------------------------------------------------------------------------------
finish cli_test
