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
set -eu
ROUNDS=${EZLB_BENCH_ROUNDS:-2}
W=/tmp/xbench
rm -rf "$W"; mkdir -p "$W"
modprobe esp4 2>/dev/null || true
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }
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
floor_ez=""; floor_ip=""
for i in 1 2 3; do
  t0=$(now_ms); ezlb --version > /dev/null; t1=$(now_ms); floor_ez=$(min "$floor_ez" $((t1 - t0)))
  : > "$W/empty.txt"; t0=$(now_ms); ip -batch "$W/empty.txt"; t1=$(now_ms); floor_ip=$(min "$floor_ip" $((t1 - t0)))
done
echo "BENCH startup ezlb_version_ms=$floor_ez ip_batch_empty_ms=$floor_ip"
summary=" startup:ezlb_ms=$floor_ez,ip_ms=$floor_ip"
ip netns attach xb-root 1   # a name for the initial namespace, for `ip -n` in count/to_batch
[ "$(count xb-root)" = "0 0" ] || { echo "BENCH-FAIL the initial namespace has xfrm objects: $(count xb-root)"; exit 1; }
for shape in blocks scattered; do
  config $shape
  best_full=""; best_conv=""; best_ip=""; best_clean=""
  r=1
  while [ "$r" -le "$ROUNDS" ]; do
    E=xb-root; I=xb-ip-$shape-$r
    ip netns add "$I"
    rm -rf "$W/state"
    t0=$(now_ms); ezlb xfrm sync -c "$W/$shape.yaml" --state-dir "$W/state" --backend kernel -o json > "$W/full.json" || { echo "BENCH-FAIL full sync exited $?:"; grep -o '"error":"[^"]*"' "$W/full.json" | sort | uniq -c | head; grep -o '"errors":\[[^]]*\]' "$W/full.json"; exit 1; }; t1=$(now_ms)
    full=$((t1 - t0)); objs=$(count "$E")
    grep -q '"changed":true' "$W/full.json" || { echo "BENCH-FAIL full sync: $(head -c 300 "$W/full.json")"; exit 1; }
    t0=$(now_ms); ezlb xfrm sync -c "$W/$shape.yaml" --state-dir "$W/state" --backend kernel -o json > "$W/conv.json"; t1=$(now_ms)
    conv=$((t1 - t0))
    grep -q '"writes":0' "$W/conv.json" || { echo "BENCH-FAIL converged sync wrote: $(head -c 300 "$W/conv.json")"; exit 1; }
    if [ "$r" = 1 ]; then  # where a converged run's time goes (-vv phase laps; not timed itself)
      ezlb xfrm sync -c "$W/$shape.yaml" --state-dir "$W/state" --backend kernel -o json -vv 2> "$W/phases.txt" > /dev/null
      grep -o '\] [a-z ,]*: [0-9]* ms' "$W/phases.txt" | sed "s/^\] /BENCH-PHASE shape=$shape converged /"
    fi
    to_batch "$E" > "$W/batch.txt"
    t0=$(now_ms); ip -n "$I" -batch "$W/batch.txt"; t1=$(now_ms)
    ipb=$((t1 - t0))
    [ "$(count "$I")" = "$objs" ] || { echo "BENCH-FAIL ip -batch installed $(count "$I"), ezlb $objs"; exit 1; }
    t0=$(now_ms); ezlb xfrm cleanup --state-dir "$W/state" --backend kernel > /dev/null; t1=$(now_ms)
    clean=$((t1 - t0))
    [ "$(count "$E")" = "0 0" ] || { echo "BENCH-FAIL cleanup left $(count "$E")"; exit 1; }
    echo "BENCH shape=$shape round=$r objects(policies,states)=$objs ezlb_full_ms=$full ezlb_converged_ms=$conv ip_batch_ms=$ipb ezlb_cleanup_ms=$clean"
    best_full=$(min "$best_full" $full); best_conv=$(min "$best_conv" $conv); best_ip=$(min "$best_ip" $ipb); best_clean=$(min "$best_clean" $clean)
    ip netns del "$I"
    r=$((r + 1))
  done
  summary="$summary $(awk -v s=$shape -v o="$objs" -v f=$best_full -v c=$best_conv -v i=$best_ip -v cl=$best_clean 'BEGIN { split(o, a, " "); printf "%s:policies=%d,states=%d,full_ms=%d,converged_ms=%d,ip_batch_ms=%d,cleanup_ms=%d,full_vs_ip=%.2f", s, a[1], a[2], f, c, i, cl, f / i }')"
done
echo "BENCH-SUMMARY$summary"
