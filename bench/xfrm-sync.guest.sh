#!/bin/sh
# Guest half of bench/xfrm-sync: runs inside the kernel VM (scripts/kernel-vm).
# One node with 10 peers and 1,000 managed pods on the peers (100 each), in two shapes:
#   blocks:    each peer's 100 pods are contiguous (10.P.0.0-10.P.0.99): 3 prefixes per peer
#   scattered: every other address (10.P.0.0, .2, .4, ...): 100 prefixes per peer
# For each shape: `ezlb xfrm sync` from empty, the converged re-sync, and `ip -batch`
# installing the same policies and SAs (read back from ezlb's namespace, keys included)
# into a fresh namespace. ezlb runs in the guest's initial namespace (the VM is thrown
# away), as it would on a host, and ip gets its namespace through `ip -n` (a setns
# inside ip): neither pays for an `ip netns exec` (~50 ms per process under TCG), which
# the first version of this bench charged to ezlb only. `ezlb xfrm cleanup` empties the
# initial namespace after each round (checked). Prints BENCH lines and a BENCH-SUMMARY.
#
# Timer: bash's $EPOCHREALTIME (microseconds; the scenario re-executes itself under bash),
# taken right before and after each command, so both tools pay the same fork+exec from
# the same shell. (Until 2026-11-21 this read /proc/uptime: 10 ms steps.) Times are
# reported in ms with one decimal; the summary gives min and median over the rounds.
# EZLB_BENCH_B=NAME: a second ezlb binary in PATH (the previous build) runs the same
# rounds, the order alternating; its lines are tagged b_ / BENCH-B.
[ -n "${BASH_VERSION:-}" ] || exec bash -eu "$0" "$@"
set -eu
ROUNDS=${EZLB_BENCH_ROUNDS:-2}
W=/tmp/xbench
rm -rf "$W"; mkdir -p "$W"
modprobe esp4 2>/dev/null || true
now_us() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
ms() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }  # µs -> "12.3"
# stats "LIST OF µs": "min/median" in ms (median of an even count: the lower middle)
stats() { local s; s=$(printf '%s\n' $1 | sort -n); local n; n=$(printf '%s\n' "$s" | wc -l)
  echo "$(ms "$(printf '%s\n' "$s" | head -1)")/$(ms "$(printf '%s\n' "$s" | sed -n "$(((n + 1) / 2))p")")"; }
printf '%064x\n' 0xfeedface > "$W/psk"; chmod 600 "$W/psk"

config() { # config SHAPE
  {
    echo "ipsec:"
    echo "  local: 192.168.0.1"
    echo "  key_file: $W/psk"
    echo "  pods: [10.244.1.0/26]"
    echo "  peers:"
    p=0
    while [ $p -lt 10 ]; do
      echo "    - address: 192.168.1.$((p + 10))"
      printf "      pods: ["
      awk -v p=$((p + 10)) -v shape="$1" 'BEGIN { for (i = 0; i < 100; i++) { a = (shape == "blocks") ? i : 2 * i; printf "%s10.%d.%d.%d", (i ? ", " : ""), p, int(a / 256), a % 256 } }'
      echo "]"
      p=$((p + 1))
    done
  } > "$W/$1.yaml"
}

# to_batch NS: `ip -batch` commands that install the xfrm objects NS holds (keys included).
to_batch() {
  ip -n "$1" -o xfrm state | sed 's/\\/ /g' | awk '{
    for (i = 1; i <= NF; i++) {
      if ($i == "src" && !s) s = $(i+1); if ($i == "dst" && !d) d = $(i+1)
      if ($i == "spi") spi = $(i+1); if ($i == "reqid") r = $(i+1); if ($i == "aead") { alg = $(i+1); key = $(i+2); icv = $(i+3) }
    }
    printf "xfrm state add src %s dst %s proto esp spi %s reqid %s mode tunnel replay-window 32 aead %s %s %s\n", s, d, spi, r, alg, key, icv
    s = ""; d = ""
  }'
  ip -n "$1" -o xfrm policy | sed 's/\\/ /g' | awk '{
    n = 0
    for (i = 1; i <= NF; i++) {
      if ($i == "src") { n++; if (n == 1) s = $(i+1); else ts = $(i+1) }
      if ($i == "dst") { if (n == 1 && !d) d = $(i+1); else td = $(i+1) }
      if ($i == "dir") dir = $(i+1); if ($i == "priority") pr = $(i+1); if ($i == "reqid") r = $(i+1)
    }
    printf "xfrm policy add src %s dst %s dir %s priority %s tmpl src %s dst %s proto esp reqid %s mode tunnel\n", s, d, dir, pr, ts, td, r
    d = ""
  }'
}
count() { echo "$(ip -n "$1" xfrm policy | grep -c '^src ') $(ip -n "$1" xfrm state | grep -c '^src ')"; }

# Process start-up floor under TCG: what any ezlb or ip run costs before doing anything.
floor_ez=""; floor_ip=""; floor_b=""
: > "$W/empty.txt"
for i in 1 2 3 4 5; do
  t0=$(now_us); ezlb --version > /dev/null; t1=$(now_us); floor_ez="$floor_ez $((t1 - t0))"
  if [ -n "${EZLB_BENCH_B:-}" ]; then t0=$(now_us); "$EZLB_BENCH_B" --version > /dev/null; t1=$(now_us); floor_b="$floor_b $((t1 - t0))"; fi
  t0=$(now_us); ip -batch "$W/empty.txt"; t1=$(now_us); floor_ip="$floor_ip $((t1 - t0))"
done
echo "BENCH startup (min/median ms) ezlb_version=$(stats "$floor_ez") ip_batch_empty=$(stats "$floor_ip")"
[ -z "${EZLB_BENCH_B:-}" ] || echo "BENCH-B startup (min/median ms) ${EZLB_BENCH_B}_version=$(stats "$floor_b")"
summary=" startup:ezlb_ms=$(stats "$floor_ez"),ip_ms=$(stats "$floor_ip")"
ip netns attach xb-root 1   # a name for the initial namespace, for `ip -n` in count/to_batch
[ "$(count xb-root)" = "0 0" ] || { echo "BENCH-FAIL the initial namespace has xfrm objects: $(count xb-root)"; exit 1; }

# ezlb_round BINARY PREFIX: full sync from empty, converged re-sync and cleanup in the
# initial namespace; times in ${PREFIX}full/conv/clean ("" for ezlb, b_ for EZLB_BENCH_B).
# After ezlb's sync (and before its cleanup) ip -batch installs the same objects in $I.
ezlb_round() {
  bin=$1; p=$2
  rm -rf "$W/state"
  t0=$(now_us); "$bin" xfrm sync -c "$W/$shape.yaml" --state-dir "$W/state" --backend kernel -o json > "$W/full.json" || { echo "BENCH-FAIL full sync exited $?:"; grep -o '"error":"[^"]*"' "$W/full.json" | sort | uniq -c | head; grep -o '"errors":\[[^]]*\]' "$W/full.json"; exit 1; }; t1=$(now_us)
  eval "${p}full=$((t1 - t0))"; objs=$(count "$E")
  grep -q '"changed":true' "$W/full.json" || { echo "BENCH-FAIL full sync: $(head -c 300 "$W/full.json")"; exit 1; }
  t0=$(now_us); "$bin" xfrm sync -c "$W/$shape.yaml" --state-dir "$W/state" --backend kernel -o json > "$W/conv.json"; t1=$(now_us)
  eval "${p}conv=$((t1 - t0))"
  grep -q '"writes":0' "$W/conv.json" || { echo "BENCH-FAIL converged sync wrote: $(head -c 300 "$W/conv.json")"; exit 1; }
  if [ "$r" = 1 ]; then  # where a converged run's time goes (-vv phase laps; not timed itself)
    "$bin" xfrm sync -c "$W/$shape.yaml" --state-dir "$W/state" --backend kernel -o json -vv 2> "$W/phases.txt" > /dev/null
    grep -o '\] [a-z ,]*: [0-9.]* ms' "$W/phases.txt" | sed "s/^\] /BENCH-PHASE shape=$shape ${p}converged /"
  fi
  if [ -z "$p" ]; then  # ip -batch installs what ezlb made, read back from the kernel
    to_batch "$E" > "$W/batch.txt"
    t0=$(now_us); ip -n "$I" -batch "$W/batch.txt"; t1=$(now_us)
    ipb=$((t1 - t0))
    [ "$(count "$I")" = "$objs" ] || { echo "BENCH-FAIL ip -batch installed $(count "$I"), ezlb $objs"; exit 1; }
  fi
  t0=$(now_us); "$bin" xfrm cleanup --state-dir "$W/state" --backend kernel > /dev/null; t1=$(now_us)
  eval "${p}clean=$((t1 - t0))"
  [ "$(count "$E")" = "0 0" ] || { echo "BENCH-FAIL cleanup left $(count "$E")"; exit 1; }
}

for shape in blocks scattered; do
  config $shape
  all_full=""; all_conv=""; all_ip=""; all_clean=""; b_all_full=""; b_all_conv=""; b_all_clean=""
  r=1
  while [ "$r" -le "$ROUNDS" ]; do
    E=xb-root; I=xb-ip-$shape-$r
    ip netns add "$I"
    if [ -z "${EZLB_BENCH_B:-}" ]; then ezlb_round ezlb ""
    elif [ $((r % 2)) = 1 ]; then ezlb_round ezlb ""; ezlb_round "$EZLB_BENCH_B" b_
    else ezlb_round "$EZLB_BENCH_B" b_; ezlb_round ezlb ""; fi
    echo "BENCH shape=$shape round=$r objects(policies,states)=$objs ezlb_full_ms=$(ms $full) ezlb_converged_ms=$(ms $conv) ip_batch_ms=$(ms $ipb) ezlb_cleanup_ms=$(ms $clean)"
    all_full="$all_full $full"; all_conv="$all_conv $conv"; all_ip="$all_ip $ipb"; all_clean="$all_clean $clean"
    if [ -n "${EZLB_BENCH_B:-}" ]; then
      echo "BENCH shape=$shape round=$r binary=$EZLB_BENCH_B b_ezlb_full_ms=$(ms $b_full) b_ezlb_converged_ms=$(ms $b_conv) b_ezlb_cleanup_ms=$(ms $b_clean)"
      b_all_full="$b_all_full $b_full"; b_all_conv="$b_all_conv $b_conv"; b_all_clean="$b_all_clean $b_clean"
    fi
    ip netns del "$I"
    r=$((r + 1))
  done
  f=$(stats "$all_full"); i=$(stats "$all_ip")
  ratio=$(awk -v f="$f" -v i="$i" 'BEGIN { split(f, a, "/"); split(i, b, "/"); printf "%.2f/%.2f", a[1] / b[1], a[2] / b[2] }')
  echo "BENCH shape=$shape (min/median ms over $ROUNDS rounds) ezlb_full=$f ip_batch=$i full_vs_ip=$ratio converged=$(stats "$all_conv") cleanup=$(stats "$all_clean")"
  if [ -n "${EZLB_BENCH_B:-}" ]; then
    bf=$(stats "$b_all_full")
    bratio=$(awk -v f="$bf" -v i="$i" 'BEGIN { split(f, a, "/"); split(i, b, "/"); printf "%.2f/%.2f", a[1] / b[1], a[2] / b[2] }')
    echo "BENCH-B shape=$shape binary=$EZLB_BENCH_B (min/median ms) ezlb_full=$bf full_vs_ip=$bratio converged=$(stats "$b_all_conv") cleanup=$(stats "$b_all_clean")"
  fi
  summary="$summary $shape:policies=${objs% *},states=${objs#* },full_ms=$f,converged_ms=$(stats "$all_conv"),ip_batch_ms=$i,cleanup_ms=$(stats "$all_clean"),full_vs_ip=$ratio"
done
echo "BENCH-SUMMARY$summary"
