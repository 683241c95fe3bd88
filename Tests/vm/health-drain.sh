# Tests/vm/health-drain.sh — health checks on a real kernel: a backend whose
# probe fails is drained to weight 0 by `ezlb ipvs apply`; it receives no new
# connections while a connection it already has keeps working; when its probe
# passes again it gets its weight back.
#
#   netns client (10.0.0.2) --veth-- director = guest root netns --bridge br-be-- netns b1 (192.168.1.10:8081)
#                                    VIP 10.0.0.1:81, ip_forward=1              \-- netns b2 (192.168.1.11:8081)
#
# Each backend runs a line server (busybox nc -ll -e): it sends its name, then
# echoes every line until "quit". The director's TCP probes come from
# 192.168.1.1 (its br-be address); b2 rejects exactly those (iptables in b2's
# namespace) to fail its probe while client traffic through IPVS, whose source
# stays 10.0.0.2, is untouched.
. "${0%/*}/lib.sh"

command -v ezlb >/dev/null || die "no ezlb binary in the guest"
W=/tmp/ezlb-health
rm -rf "$W"; mkdir -p "$W"
# Ports differ from ipvs-packets.sh on purpose: IPVS keeps a deleted destination
# that still has connections in its "trash" and revives it, with its counters,
# when the same service/destination is added again; shared VIP:port/backend pairs
# made that scenario's --stats checks see this one's connections.
VIP=10.0.0.1
VPORT=81
B1=192.168.1.10:8081
B2=192.168.1.11:8081

cat > "$W/ezlb.yaml" <<EOF
services:
  - name: web
    listen: "$VIP:$VPORT"
    scheduler: rr
    health_check: {type: tcp, interval: 10ms, timeout: 1s, fail_count: 2, rise_count: 2}
    backends:
      - {address: "$B1", weight: 1}
      - {address: "$B2", weight: 1}
EOF
apply() { ezlb ipvs apply -c "$W/ezlb.yaml" --state-dir "$W/state" --backend kernel "$@" 2> "$W/err"; }

step "topology"
director_topology "$VIP" "$B1" "$B2"
for b in b1 b2; do
  printf '#!/bin/sh\necho %s\nwhile read -r line; do [ "$line" = quit ] && exit 0; echo "$line"; done\n' "$b" > "$W/serve-$b"
  chmod +x "$W/serve-$b"
  bg_start ip netns exec "$b" nc -ll -p 8081 -e "$W/serve-$b"
done
# one_conn HOST PORT: one short connection from the client; prints the backend's name.
one_conn() { printf 'quit\n' | timeout 5 ip netns exec client nc "$1" "$2" 2>/dev/null | head -n 1; }
for b in b1 b2; do
  case $b in b1) rs=$B1 ;; b2) rs=$B2 ;; esac
  if wait_until 10 sh -c "[ \"\$(printf 'quit\n' | timeout 5 ip netns exec $b nc ${rs%:*} 8081 | head -n 1)\" = $b ]"; then
    ok "backend $b answers on $rs"
  else
    die "backend $b did not come up on $rs"
  fi
done

# hits N: N short connections through the VIP; sets HB1 HB2 HERR.
hits() {
  HB1=0; HB2=0; HERR=0; _i=0
  while [ "$_i" -lt "$1" ]; do
    case "$(one_conn "$VIP" "$VPORT")" in b1) HB1=$((HB1 + 1)) ;; b2) HB2=$((HB2 + 1)) ;; *) HERR=$((HERR + 1)) ;; esac
    _i=$((_i + 1))
  done
  echo "   client saw: b1=$HB1 b2=$HB2 errors=$HERR (of $1)"
}

step "apply: both backends healthy"
assert_ok "first apply" apply
check_ipvsadm_equals "kernel holds rr 1:1" "
  -A -t $VIP:$VPORT -s rr
  -a -t $VIP:$VPORT -r $B1 -m -w 1
  -a -t $VIP:$VPORT -r $B2 -m -w 1
"

step "a long-lived connection lands on b2"
mkfifo "$W/in"
got=""
for try in 1 2 3 4 5 6; do
  : > "$W/out"
  bg_start sh -c "ip netns exec client nc $VIP $VPORT < $W/in > $W/out"
  LONG_PID=$BG_PID
  exec 3> "$W/in"
  wait_until 5 test -s "$W/out" || true
  got=$(head -n 1 "$W/out")
  [ "$got" = b2 ] && break
  echo quit >&3; exec 3>&-
  wait "$LONG_PID" 2>/dev/null || true
done
assert_eq "the long connection is served by b2" b2 "$got"
echo ping1 >&3
if wait_until 5 grep -qx ping1 "$W/out"; then ok "b2 echoes on the long connection"; else fail "b2 echoes on the long connection"; fi

step "b2's probes fail (REJECT from the director's address only)"
ip netns exec b2 iptables-legacy -I INPUT -s 192.168.1.1 -p tcp --dport 8081 --syn -j REJECT --reject-with tcp-reset
assert_fails "the director cannot connect to b2 any more" sh -c "printf 'quit\n' | timeout 5 nc ${B2%:*} 8081 | grep -q b2"
apply -o json > "$W/r1.json" || true
assert_contains "first failure: no change (fail_count 2)" "$(cat "$W/r1.json")" '"changed":false'
assert_contains "b2 still at weight 1" "$(ipvs_dump)" "-r $B2 -m -w 1"
apply > "$W/r2.txt" || true
assert_contains "second failure drains b2 to weight 0, with the reason" "$(cat "$W/r2.txt")" \
  "~ destination tcp $VIP:$VPORT -> $B2 weight 1 -> 0 (unhealthy: 2 failures: connect: connection refused)"
assert_contains "kernel: b2 at weight 0" "$(ipvs_dump)" "-r $B2 -m -w 0"

step "drained: no new connections to b2, the existing one keeps working"
hits 30
assert_eq "no failed connections" 0 "$HERR"
assert_eq "b1 takes all 30 new connections" 30 "$HB1"
assert_eq "b2 takes no new connection" 0 "$HB2"
echo ping2 >&3
if wait_until 5 grep -qx ping2 "$W/out"; then ok "the existing connection to b2 still works at weight 0"; else
  fail "the existing connection to b2 still works at weight 0"; cat "$W/out" | _vm_ctx
fi
active=$(ipvsadm -L -n -t "$VIP:$VPORT" | awk -v rs="$B2" '$1 == "->" && $2 == rs { print $5 }')
assert_eq "IPVS still counts b2's one active connection" 1 "$active"

step "the drain survives runs: --no-probe and a re-apply keep weight 0"
assert_ok "apply --no-probe" apply --no-probe --detailed-exitcode
assert_ok "re-apply while still failing" apply --detailed-exitcode
assert_contains "kernel: b2 still at weight 0" "$(ipvs_dump)" "-r $B2 -m -w 0"
h=$(ezlb ipvs health -c "$W/ezlb.yaml" --state-dir "$W/state" --backend kernel)
assert_contains "ipvs health shows b2 unhealthy with its error" "$h" "$B2  unhealthy"
assert_contains "ipvs health shows the error" "$h" "error: connect: connection refused"

step "b2 recovers: weight back after rise_count successes"
ip netns exec b2 iptables-legacy -D INPUT -s 192.168.1.1 -p tcp --dport 8081 --syn -j REJECT --reject-with tcp-reset
apply -o json > "$W/r3.json" || true
assert_contains "first success: no change (rise_count 2)" "$(cat "$W/r3.json")" '"changed":false'
apply > "$W/r4.txt" || true
assert_contains "second success restores weight 1" "$(cat "$W/r4.txt")" "~ destination tcp $VIP:$VPORT -> $B2 weight 0 -> 1 (healthy: 2 successes)"
hits 20
assert_eq "no failed connections" 0 "$HERR"
assert_between "b2 takes new connections again (rr)" 8 12 "$HB2"
echo ping3 >&3
if wait_until 5 grep -qx ping3 "$W/out"; then ok "the long connection outlived drain and recovery"; else fail "the long connection outlived drain and recovery"; fi

step "teardown"
echo quit >&3; exec 3>&-
assert_ok "ipvs cleanup" ezlb ipvs cleanup --state-dir "$W/state" --backend kernel
assert_eq "IPVS table empty" "" "$(ipvs_dump)"
vm_teardown
ip link del br-be
ip link del c-dir 2>/dev/null || true
