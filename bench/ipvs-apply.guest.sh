#!/bin/sh
# Guest half of bench/ipvs-apply: runs inside the kernel VM (scripts/kernel-vm).
# Loads N services x 4 real servers (default 5000 x 4) from empty with
# `ipvsadm -R` and with `ezlb ipvs apply`, in the same VM run, then times the
# converged re-apply and cleanup. Prints one BENCH line per measurement and a
# summary with the ratios the issue targets:
#   full apply / ipvsadm -R   <= 1.0
#   converged re-apply / full apply <= 0.10
# EZLB_BENCH_B=NAME: a second ezlb binary in the guest's PATH, timed in the same
# rounds as ezlb (order alternating) in its own fresh namespace (BENCH lines prefixed b_,
# BENCH-SUMMARY-B): the previous build, interleaved in one run.
set -eu
N=${EZLB_BENCH_SERVICES:-5000}
ROUNDS=${EZLB_BENCH_ROUNDS:-2}
W=/tmp/bench
rm -rf "$W"; mkdir -p "$W"

# Milliseconds since boot (busybox-friendly).
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

awk -v n="$N" 'BEGIN {
  print "services:" > "'"$W"'/ezlb.yaml"
  for (i = 0; i < n; i++) {
    vip = sprintf("10.%d.%d.%d", 1 + int(i / 62500), int(i / 250) % 250, i % 250 + 1)
    # health_check off: TCP services are probed by default (upstream semantics),
    # and ipvsadm -R loads a table without probing; bench/health measures probes.
    printf "  - name: s%d\n    listen: %s:80\n    scheduler: wrr\n    health_check: {enabled: false}\n    backends:\n", i, vip >> "'"$W"'/ezlb.yaml"
    printf "-A -t %s:80 -s wrr\n", vip >> "'"$W"'/ipvsadm.rules"
    for (b = 1; b <= 4; b++) {
      printf "      - {address: \"172.16.%d.%d:8080\", weight: %d}\n", int(i / 250) % 250, b, b >> "'"$W"'/ezlb.yaml"
      printf "-a -t %s:80 -r 172.16.%d.%d:8080 -m -w %d\n", vip, int(i / 250) % 250, b, b >> "'"$W"'/ipvsadm.rules"
    }
  }
}'
expected=$((N * 5))
# Each load runs in a brand-new network namespace (its own IPVS instance):
# after a mass delete the kernel keeps up to ~all deleted destinations in its
# trash list for two minutes and scans that list on every destination add, so
# whichever tool ran second in a shared namespace would be measured on a
# slower kernel.
lines() { ip netns exec "$1" ipvsadm -S -n | wc -l; }

best_ipvsadm=""; best_full=""; best_conv=""; best_clean=""; best_b_full=""; best_b_conv=""; best_b_clean=""
min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }

# ezlb_round BINARY NAMESPACE PREFIX: full apply, converged re-apply and cleanup of one
# round; BENCH lines and best times under PREFIX ("" for ezlb, b_ for EZLB_BENCH_B).
ezlb_round() {
  bin=$1; ns=$2; p=$3
  rm -rf "$W/state"
  t0=$(now_ms); ip netns exec "$ns" "$bin" ipvs apply -c "$W/ezlb.yaml" --state-dir "$W/state" --backend kernel -o json > "$W/full.json"; t1=$(now_ms)
  [ "$(lines "$ns")" -eq "$expected" ] || { echo "BENCH-FAIL $bin loaded $(lines "$ns") lines, want $expected"; exit 1; }
  ip netns exec "$ns" ipvsadm -S -n > "$W/by-ezlb.txt"
  cmp -s "$W/by-ipvsadm.txt" "$W/by-ezlb.txt" || { echo "BENCH-FAIL tables differ ($bin)"; diff "$W/by-ipvsadm.txt" "$W/by-ezlb.txt" | head; exit 1; }
  echo "BENCH round=$r ${p}ezlb_full_apply_ms=$((t1 - t0))"
  eval "best_${p}full=\$(min \"\${best_${p}full}\" $((t1 - t0)))"

  t0=$(now_ms); ip netns exec "$ns" "$bin" ipvs apply -c "$W/ezlb.yaml" --state-dir "$W/state" --backend kernel -o json > "$W/conv.json"; t1=$(now_ms)
  grep -q '"changed":false' "$W/conv.json" || { echo "BENCH-FAIL converged re-apply changed something ($bin)"; head -c 400 "$W/conv.json"; exit 1; }
  echo "BENCH round=$r ${p}ezlb_converged_apply_ms=$((t1 - t0))"
  eval "best_${p}conv=\$(min \"\${best_${p}conv}\" $((t1 - t0)))"
  if [ "$r" = 1 ]; then  # where a converged run's time goes (-vv phase laps; not timed itself) and the floors
    ip netns exec "$ns" "$bin" ipvs apply -c "$W/ezlb.yaml" --state-dir "$W/state" --backend kernel -o json -vv 2> "$W/phases.txt" > /dev/null
    grep -o '\] [a-z ,]*: [0-9.]* ms' "$W/phases.txt" | sed "s/^\] /BENCH-PHASE ${p}converged /"
    t0=$(now_ms); "$bin" --version > /dev/null; t1=$(now_ms); echo "BENCH-PHASE floor $bin --version: $((t1 - t0)) ms"
    t0=$(now_ms); ip netns exec "$ns" true; t1=$(now_ms); echo "BENCH-PHASE floor ip netns exec true: $((t1 - t0)) ms"
  fi

  t0=$(now_ms); ip netns exec "$ns" "$bin" ipvs cleanup --state-dir "$W/state" --backend kernel > /dev/null; t1=$(now_ms)
  [ "$(lines "$ns")" -eq 0 ] || { echo "BENCH-FAIL cleanup left $(lines "$ns") lines ($bin)"; exit 1; }
  echo "BENCH round=$r ${p}ezlb_cleanup_ms=$((t1 - t0))"
  eval "best_${p}clean=\$(min \"\${best_${p}clean}\" $((t1 - t0)))"
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
  A=bench-ipvsadm-$r; B=bench-ezlb-$r
  for ns in "$A" "$B"; do
    ip netns add "$ns"
    # IPVS accepts only unicast real servers: give the namespace a route to them.
    ip -n "$ns" link set lo up
    ip -n "$ns" route add 172.16.0.0/12 dev lo
  done

  t0=$(now_ms); ip netns exec "$A" ipvsadm -R < "$W/ipvsadm.rules"; t1=$(now_ms)
  [ "$(lines "$A")" -eq "$expected" ] || { echo "BENCH-FAIL ipvsadm loaded $(lines "$A") lines, want $expected"; exit 1; }
  ip netns exec "$A" ipvsadm -S -n > "$W/by-ipvsadm.txt"
  echo "BENCH round=$r ipvsadm_restore_ms=$((t1 - t0))"
  best_ipvsadm=$(min "$best_ipvsadm" $((t1 - t0)))

  if [ -z "${EZLB_BENCH_B:-}" ]; then
    ezlb_round ezlb "$B" ""
  else  # both binaries, each in its own fresh namespace, the order alternating per round
    ip netns add "$B-b"; ip -n "$B-b" link set lo up; ip -n "$B-b" route add 172.16.0.0/12 dev lo
    if [ $((r % 2)) = 1 ]; then ezlb_round ezlb "$B" ""; ezlb_round "$EZLB_BENCH_B" "$B-b" b_
    else ezlb_round "$EZLB_BENCH_B" "$B-b" b_; ezlb_round ezlb "$B" ""; fi
    ip netns del "$B-b"
  fi
  ip netns del "$A"; ip netns del "$B"
  r=$((r + 1))
done

awk -v s="$N" -v ia="$best_ipvsadm" -v f="$best_full" -v c="$best_conv" -v cl="$best_clean" 'BEGIN {
  printf "BENCH-SUMMARY services=%d destinations=%d ipvsadm_restore_ms=%d ezlb_full_ms=%d ezlb_converged_ms=%d ezlb_cleanup_ms=%d full_vs_ipvsadm=%.2f converged_vs_full=%.3f\n", s, s * 4, ia, f, c, cl, f / ia, c / f
}'
if [ -n "${EZLB_BENCH_B:-}" ]; then
  awk -v b="$EZLB_BENCH_B" -v ia="$best_ipvsadm" -v f="$best_b_full" -v c="$best_b_conv" -v cl="$best_b_clean" 'BEGIN {
    printf "BENCH-SUMMARY-B binary=%s ezlb_full_ms=%d ezlb_converged_ms=%d ezlb_cleanup_ms=%d full_vs_ipvsadm=%.2f converged_vs_full=%.3f\n", b, f, c, cl, f / ia, c / f
  }'
fi
