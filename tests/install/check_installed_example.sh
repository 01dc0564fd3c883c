#!/usr/bin/env bash
# Installs the build into a fresh prefix and builds the CANN-style examples against it as CANN users
# build: with the plain compiler lines (for the W4A16 sample: CANN's line, with -lacl_rt, with -lopapi) and
# with the samples' CMake (ASCEND_PATH=PREFIX). Runs each and checks what it prints (packed bytes; y == k). Also compiles the headers as C and links a C program, and builds a
# C++ program on the engine's installed C++ API (libint4pack).
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
prefix="$build/install-check/prefix"
work="$build/install-check"
rm -rf "$work"
mkdir -p "$work"

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/acl/acl.h include/acl/acl_base.h include/acl/acl_rt.h include/aclnn/acl_meta.h \
         include/aclnn/aclnn_base.h include/aclnnop/aclnn_convert_weight_to_int4_pack.h \
         include/aclnnop/aclnn_int4_pack_to_weight.h include/int4pack/settings.h include/int4pack/engine.h \
         include/aclnnop/aclnn_weight_quant_batch_matmul_v2.h include/aclnnop/aclnn_cast.h include/int4pack/matmul.h \
         lib64/libascendcl.so lib64/libacl_rt.so lib64/libnnopbase.so lib64/libopapi_nn.so lib64/libopapi_math.so \
         lib64/libopapi.so lib64/libint4pack.so; do
  [ -e "$prefix/$f" ] || { echo "missing from the install: $f"; exit 1; }
done

if [ -x "$build/int4pack" ]; then  # the converter, when built
  [ -x "$prefix/bin/int4pack" ] || { echo "missing from the install: bin/int4pack"; exit 1; }
  "$prefix/bin/int4pack" --help | grep -q convert
fi

expect() {  # $1: output file
  grep -q 'INT4 ND (2, 8): *E1 C3 A5 87 10 32 54 76$' "$1"
  grep -q 'INT32 ND (2, 1) words: *0x87A5C3E1 0x76543210$' "$1"
  grep -q 'bytes 0-3: *E1 C3 A5 87$' "$1"
  grep -q 'bytes 32-35: *10 32 54 76$' "$1"
  grep -q 'non-zero bytes: 8$' "$1"
  grep -q '2048 bytes, 612 of 0x11, 1436 of 0x00$' "$1"
}

echo "== plain compiler line"
c++ -std=c++11 -Wall -Wextra -Werror "$src/examples/convert_weight_to_int4_pack.cpp" \
    -I "$prefix/include" -L "$prefix/lib64" -lascendcl -lnnopbase -lopapi_nn -o "$work/example"
LD_LIBRARY_PATH="$prefix/lib64" "$work/example" | tee "$work/plain.out"
expect "$work/plain.out"

echo "== CANN sample CMake with ASCEND_PATH=$prefix"
cmake -S "$src/examples" -B "$work/cmake" -DASCEND_PATH="$prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$prefix/lib64" "$work/cmake/convert_weight_to_int4_pack" > "$work/cmake.out"
expect "$work/cmake.out"

# The W4A16 sample flow (Cast, Convert, WeightQuantBatchMatmulV2, Cast; ND and NZ): CANN's example build
# line, then with newer CANN's runtime name and with the one-library libopapi.
matmul_expect() {  # $1: output file
  grep -q '^ND, (k, n) weight: every y equals k (256 values)$' "$1"
  grep -q '^NZ, transposed (n, k) weight: every y equals k (272 values)$' "$1"
}
matmul_line() {  # $1: name; the rest: libraries
  local name=$1
  shift
  echo "== W4A16 sample, g++ ... $*"
  c++ -std=c++11 -Wall -Wextra -Werror "$src/examples/weight_quant_matmul.cpp" -I "$prefix/include" \
      -I "$prefix/include/aclnnop" -L "$prefix/lib64" "$@" -o "$work/$name"
  LD_LIBRARY_PATH="$prefix/lib64" "$work/$name" | tee "$work/$name.out"
  matmul_expect "$work/$name.out"
}
matmul_line matmul_cann -lopapi_nn -lopapi_math -lascendcl -lnnopbase
matmul_line matmul_acl_rt -lopapi_nn -lopapi_math -lacl_rt -lnnopbase
matmul_line matmul_opapi -lopapi -lascendcl -lnnopbase
LD_LIBRARY_PATH="$prefix/lib64" "$work/cmake/weight_quant_matmul" > "$work/cmake-matmul.out"
matmul_expect "$work/cmake-matmul.out"

echo "== C"
cc -std=c99 -Wall -Wextra -Werror "$src/tests/install/c_api.c" -I "$prefix/include" -L "$prefix/lib64" \
   -lascendcl -lnnopbase -lopapi_nn -o "$work/c_api"
LD_LIBRARY_PATH="$prefix/lib64" "$work/c_api"
echo "== the engine's C++ API"
c++ -std=c++17 -Wall -Wextra -Werror "$src/tests/install/engine_api.cpp" -I "$prefix/include" -L "$prefix/lib64" \
    -lint4pack -o "$work/engine_api"
LD_LIBRARY_PATH="$prefix/lib64" "$work/engine_api"
echo "installed example: OK"
