#!/usr/bin/env bash
# Runs every target for the given seconds each, one job, from the committed seeds.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-240}
for target in ${TARGETS:-generate_yaml generate_json schema_tree}; do
  mkdir -p corpus/$target
  seeds=(); [ -d seeds/$target ] && seeds=(seeds/$target)
  # The structured target starts from no seeds: let libFuzzer try long inputs at once.
  extra=(); [ $target = schema_tree ] && extra=(-len_control=0)
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O $target corpus/$target "${seeds[@]}" -- \
    -max_total_time=$secs -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "${extra[@]}" \
    2>&1 | tee logs/$target.log | grep -v '^#[0-9]*\s*\(NEW\|REDUCE\|pulse\)' || true
done
