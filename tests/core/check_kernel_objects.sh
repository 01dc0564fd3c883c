#!/usr/bin/env bash
# The kernel files compiled with ISA flags hold no start-up code and no definition of vague linkage (an
# inline function or template instance outside an anonymous namespace, which the linker keeps one copy of
# for every file that has it). Either would run that ISA's instructions on any CPU: start-up code when the
# library loads, a shared definition wherever the linker took it from. A CPU without the ISA faults.
#   check_kernel_objects.sh NM ISA_NAMES OBJECT...   (ISA_NAMES: the flagged ISAs, as name|name|...)
set -euo pipefail
nm_tool=$1
isas=$2
shift 2
checked=0
bad=0
for object in "$@"; do
  name=$(basename "$object")
  [[ $name =~ _(${isas})\.cc\.o(bj)?$ ]] || continue
  checked=$((checked + 1))
  found=$("$nm_tool" -C "$object" | grep -E ' [WVu] |_GLOBAL__sub_I' || true)
  if [[ -n $found ]]; then
    echo "$name: start-up code or a shared definition, built with its ISA's flags:"
    echo "$found"
    bad=1
  fi
done
if [[ $checked -eq 0 ]]; then
  echo "no kernel object of the ISAs '$isas' among the $# given" >&2
  exit 1
fi
echo "$checked kernel objects built with ISA flags: $([[ $bad -eq 0 ]] && echo clean || echo NOT clean)"
exit "$bad"
