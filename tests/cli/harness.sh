# The checks shared by the CLI test scripts (cli_test.sh, quant_test.sh), sourced first; each then calls
# `harness_start NAME "$@"` with its arguments INT4PACK PYTHON HELPER_PY, which sets TOOL (the int4pack
# binary), PY (Python 3 with numpy), IO (the Python helper `later` and `flush` batch), HERE (the tests'
# folder) and W (a scratch directory, removed at exit, made the current directory).
harness_start() {
  local name=$1
  shift
  if [ $# -ne 3 ]; then
    echo "usage: $0 INT4PACK PYTHON HELPER_PY" >&2
    exit 2
  fi
  TOOL=$1
  PY=$2
  IO=$3
  W=$(mktemp -d "${TMPDIR:-/tmp}/int4pack-$name.XXXXXX")
  trap 'rm -rf "$W"' EXIT
  cd "$W" || exit 2
}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The sanitizers make any report fatal (and a leak an error exit), so a memory bug fails a check below.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}print_stacktrace=1:halt_on_error=1:exitcode=98"

checks=0
failed=()
ok() { checks=$((checks + 1)); }
bad() {
  checks=$((checks + 1))
  failed+=("$1")
  echo "FAIL: $1" >&2
  if [ -s "$W/err" ]; then sed 's/^/    stderr: /' "$W/err" | head -20 >&2; fi
  if [ -s "$W/out" ]; then sed 's/^/    stdout: /' "$W/out" | head -10 >&2; fi
}
skipped=()
known_bug() {  # known_bug DESCRIPTION COMMAND...: like check, but a failure is reported as a known bug, not counted
  local what=$1
  shift
  if "$@"; then ok; else skipped+=("$what"); echo "SKIP (known bug): $what"; fi
}
check() {  # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1
  shift
  if "$@"; then ok; else bad "$what"; fi
}
st() { "$PY" "$IO" "$@"; }
# later ARGS...: a safetensors_io.py check to run with the next flush (one Python process for many checks).
later() { printf '%q ' "$@" >>"$W/batch"; echo >>"$W/batch"; }
flush() {
  [ -s "$W/batch" ] || return 0
  local line n=0
  "$PY" "$IO" batch "$W/batch" >"$W/batch.out" 2>&1
  while IFS= read -r line; do
    case $line in
      BATCH-OK:*) ok; n=$((n + 1)) ;;
      BATCH-FAIL:*) bad "${line#BATCH-FAIL: }"; n=$((n + 1)) ;;
    esac
  done <"$W/batch.out"
  if [ "$n" -ne "$(wc -l <"$W/batch")" ]; then bad "python batch ran $n of $(wc -l <"$W/batch") checks: $(tail -3 "$W/batch.out")"; fi
  rm -f "$W/batch"
}

# run WANT_RC COMMAND...: runs the tool with stdout in $W/out, stderr in $W/err; checks the exit code
# (WANT_RC "nonzero" accepts 1..127: an error exit that is neither a crash nor a signal).
rc=0
run() {
  local want=$1
  shift
  "$TOOL" "$@" >"$W/out" 2>"$W/err"
  rc=$?
  if [ "$want" = nonzero ]; then
    if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ "$rc" -ne 98 ] && [ "$rc" -ne 99 ]; then ok; else bad "int4pack $* exited $rc, wanted an error exit (1..127)"; fi
  elif [ "$rc" -eq "$want" ]; then
    ok
  else
    bad "int4pack $* exited $rc, wanted $want"
  fi
}
err_has() {  # err_has TEXT...: $W/err holds every TEXT (fixed strings)
  local t
  for t in "$@"; do
    if grep -qF -- "$t" "$W/err"; then ok; else bad "stderr lacks '$t'"; fi
  done
}
out_has() {
  local t
  for t in "$@"; do
    if grep -qF -- "$t" "$W/out"; then ok; else bad "stdout lacks '$t'"; fi
  done
}
one_error_line() {  # exactly one line on stderr, starting "int4pack:"
  if [ "$(wc -l <"$W/err")" -eq 1 ] && head -c 9 "$W/err" | grep -qx 'int4pack:'; then ok; else bad "$1: stderr is not one 'int4pack:' line"; fi
}
absent() {  # absent PATH: neither PATH nor any PATH.int4pack-tmp-* / .int4pack-old-* exists
  local p=$1 left
  left=$(ls -d "$p" "$p".int4pack-tmp-* "$p".int4pack-old-* 2>/dev/null)
  if [ -z "$left" ]; then ok; else bad "left behind: $left"; fi
}
no_temporaries() {  # no_temporaries DIR: no *.int4pack-tmp-* / *.int4pack-old-* anywhere under DIR
  local left
  left=$(find "$1" -name '*.int4pack-tmp-*' -o -name '*.int4pack-old-*')
  if [ -z "$left" ]; then ok; else bad "temporaries left behind: $left"; fi
}
json_ok() {  # stdout is one JSON document; PYEXPR (optional) is asserted on it as `j`
  if "$PY" -c 'import json,sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if len(sys.argv) < 3 or eval(sys.argv[2]) else 1)' "$W/out" "$@"; then ok; else bad "stdout is not JSON satisfying ${1:-(parse)}"; fi
}

start=$(date +%s%N)
section() {
  local tenths=$((($(date +%s%N) - start) / 100000000))
  echo "== $1 (at $((tenths / 10)).$((tenths % 10)) s)"
}

# finish NAME: the summary line; exits 1 when a check failed.
finish() {
  no_temporaries "$W"
  echo "$1: $checks checks, ${#failed[@]} failed, ${#skipped[@]} skipped as known bugs"
  if [ ${#skipped[@]} -ne 0 ]; then printf '  known bug: %s\n' "${skipped[@]}"; fi
  if [ ${#failed[@]} -ne 0 ]; then
    printf '  %s\n' "${failed[@]}"
    exit 1
  fi
  exit 0
}
