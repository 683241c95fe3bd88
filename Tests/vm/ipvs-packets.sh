# Tests/vm/ipvs-packets.sh — real packets through IPVS NAT (masq) forwarding.
#
#   netns client (10.0.0.2) --veth-- director = guest root netns --bridge br-be-- netns b1 (192.168.1.10:8080)
#                                    VIP 10.0.0.1:80, ip_forward=1              \-- netns b2 (192.168.1.11:8080)
#
# Each backend runs busybox httpd serving its own name. The client opens short
# HTTP connections to the VIP and counts who answered; the kernel's per-real-
# server counters (ipvsadm --stats) and a tcpdump capture on the backend bridge
# cross-check it. Phases: wrr 3:1 over 400 connections; weight 0 gets no new
# connections; a removed backend gets no traffic.
#
# The "configure IPVS" step is the one function ipvs_apply (desired state in,
# kernel state out). IPVS_DRIVER=ipvsadm (default) drives ipvsadm directly;
# IPVS_DRIVER=ezlb writes a config and runs `ezlb ipvs apply` instead.
. "${0%/*}/lib.sh"

IPVS_DRIVER=${IPVS_DRIVER:-ipvsadm}
VIP=10.0.0.1
VPORT=80
B1=192.168.1.10:8080
B2=192.168.1.11:8080

# ipvs_apply SCHED "ADDR:PORT=WEIGHT ..." — make the kernel hold exactly one TCP
# masq service VIP:VPORT with these backends (edit in place, do not recreate).
ipvs_apply() {
  case "$IPVS_DRIVER" in
    ipvsadm) ipvs_apply_ipvsadm "$@" ;;
    ezlb) ipvs_apply_ezlb "$@" ;;
    *) die "unknown IPVS_DRIVER=$IPVS_DRIVER" ;;
  esac
}

ipvs_apply_ipvsadm() {
  _svc="-t $VIP:$VPORT"
  if ipvsadm -L -n $_svc >/dev/null 2>&1; then
    ipvsadm -E $_svc -s "$1"
  else
    ipvsadm -A $_svc -s "$1"
  fi
  _have=$(ipvsadm -S -n | awk -v s="$VIP:$VPORT" '$1 == "-a" && $3 == s { print $5 }')
  for _spec in $2; do
    _addr=${_spec%=*}; _w=${_spec#*=}
    if printf '%s\n' "$_have" | grep -qxF "$_addr"; then
      ipvsadm -e $_svc -r "$_addr" -m -w "$_w"
    else
      ipvsadm -a $_svc -r "$_addr" -m -w "$_w"
    fi
  done
  for _addr in $_have; do
    case " $2" in *" $_addr="*) ;; *) ipvsadm -d $_svc -r "$_addr" ;; esac
  done
}

ipvs_apply_ezlb() {
  mkdir -p /tmp/ezlb-packets
  {
    echo "services:"
    echo "  - name: web"
    echo "    listen: \"$VIP:$VPORT\""
    echo "    protocol: tcp"
    echo "    scheduler: $1"
    echo "    forward: masq"
    echo "    backends:"
    for _spec in $2; do
      echo "      - address: \"${_spec%=*}\""
      echo "        weight: ${_spec#*=}"
    done
  } > /tmp/ezlb-packets/ezlb.yaml
  ezlb ipvs apply -c /tmp/ezlb-packets/ezlb.yaml --state-dir /tmp/ezlb-packets/state --backend kernel
}

# hits N: open N sequential connections from the client; sets HB1 HB2 HERR.
# (No `wget -T`: Debian's static busybox 1.35 wget segfaults with it; the outer
# timeout bounds the loop instead.)
hits() {
  _t0=$(cut -d' ' -f1 /proc/uptime)
  # ~3 s for 400 connections under TCG; the limit leaves 10x headroom.
  timeout "$((10 + $1 / 10))" ip netns exec client /bin/sh -c '
    i=0
    while [ "$i" -lt "$1" ]; do
      wget -q -O - "http://$2/" 2>/dev/null || echo ERR
      i=$((i + 1))
    done' hits "$1" "$VIP:$VPORT" > /tmp/hits.out || true
  HB1=$(grep -cx b1 /tmp/hits.out || true)
  HB2=$(grep -cx b2 /tmp/hits.out || true)
  HERR=$(($1 - HB1 - HB2))
  C1=$((C1 + HB1)); C2=$((C2 + HB2))
  echo "   client saw: b1=$HB1 b2=$HB2 errors/other=$HERR (of $1, in $(awk -v a="$_t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%.1f", b-a}')s)"
}

# Kernel-side cross-check: IPVS's own per-real-server connection counters
# (ipvsadm --stats, cumulative since the service/destination was added) must
# equal what the client observed so far (C1 C2). The kernel folds its per-CPU
# counters into them only every 2 s, so wait until the service total matches.
# (Counting `ipvsadm -L -n -c` entries is not exact: a reused client port
# replaces an old TIME_WAIT entry.)
C1=0
C2=0
rs_conns() {
  ipvsadm -L -n --stats --exact -t "$VIP:$VPORT" | awk -v rs="$1" '$1 == "->" && $2 == rs { print $3; f=1 } END { if (!f) print 0 }'
}
svc_conns() { ipvsadm -L -n --stats --exact -t "$VIP:$VPORT" | awk '$1 == "TCP" { print $3 }'; }
svc_conns_is() { [ "$(svc_conns)" = "$1" ]; }
# check_stats [b1|b2]...: compare the counters of the listed backends (default both).
check_stats() {
  wait_until 6 svc_conns_is "$((C1 + C2))" || true
  assert_eq "IPVS --stats: service connections" "$((C1 + C2))" "$(svc_conns)"
  for _b in ${*:-b1 b2}; do
    case $_b in
      b1) assert_eq "IPVS --stats: connections scheduled to b1" "$C1" "$(rs_conns "$B1")" ;;
      b2) assert_eq "IPVS --stats: connections scheduled to b2" "$C2" "$(rs_conns "$B2")" ;;
    esac
  done
}

step "topology"
director_topology "$VIP" "$B1" "$B2"
for b in b1 b2; do
  mkdir -p "/tmp/www/$b"
  echo "$b" > "/tmp/www/$b/index.html"
  bg_start ip netns exec "$b" httpd -f -p 8080 -h "/tmp/www/$b"
done
for b in b1 b2; do
  case $b in b1) rs=$B1 ;; b2) rs=$B2 ;; esac
  if wait_until 10 ip netns exec client true && wait_until 10 ip netns exec "$b" wget -q -O /dev/null "http://$rs/"; then
    ok "backend $b serves on $rs"
  else
    die "backend $b did not come up on $rs"
  fi
done
assert_fails "no direct route from client to backends" timeout 5 ip netns exec client wget -q -O /dev/null "http://$B1/"

step "configure IPVS ($IPVS_DRIVER): wrr b1=3 b2=1"
ipvs_apply wrr "$B1=3 $B2=1"
check_ipvsadm_equals "kernel holds wrr 3:1" "
  -A -t $VIP:$VPORT -s wrr
  -a -t $VIP:$VPORT -r $B1 -m -w 3
  -a -t $VIP:$VPORT -r $B2 -m -w 1
"

step "packets are DNATed to a backend with the client's source address kept (tcpdump on br-be)"
tcpdump -i br-be -n -l -c 1 'tcp dst port 8080 and tcp[tcpflags] & tcp-syn != 0' > /tmp/tcpdump.out 2> /tmp/tcpdump.err &
tdpid=$!
wait_until 10 grep -q 'listening on' /tmp/tcpdump.err || die "tcpdump did not start: $(cat /tmp/tcpdump.err)"
one=$(timeout 10 ip netns exec client wget -q -O - "http://$VIP:$VPORT/" 2>&1 || true)
case "$one" in b1) C1=1 ;; b2) C2=1 ;; esac
case "$one" in b1|b2) ok "one request through the VIP answered by $one" ;; *) fail "one request through the VIP"; echo "$one" | _vm_ctx ;; esac
wait_until 10 sh -c '! kill -0 '"$tdpid"' 2>/dev/null' || kill "$tdpid" 2>/dev/null
wait "$tdpid" 2>/dev/null || true
assert_contains "SYN on the backend side: client -> real server" "$(cat /tmp/tcpdump.out)" "10.0.0.2."
case "$one" in b1) rs=$B1 ;; *) rs=$B2 ;; esac
assert_contains "SYN on the backend side targets $one's real address" "$(cat /tmp/tcpdump.out)" "> ${rs%:*}.8080:"

step "wrr 3:1 over 400 connections"
hits 400
assert_eq "no failed connections" 0 "$HERR"
assert_between "b1 share of 400 at weight 3 (75% +-10%)" 260 340 "$HB1"
assert_between "b2 share of 400 at weight 1 (25% +-10%)" 60 140 "$HB2"
check_stats

step "ezlb ipvs show carries the kernel's counters: equal to ipvsadm -L -n --stats --exact"
# "ENDPOINT CONNS INPKTS OUTPKTS INBYTES OUTBYTES" for the service and each destination, sorted.
stats_ipvsadm() {
  ipvsadm -L -n --stats --exact -t "$VIP:$VPORT" \
    | awk '($1 == "TCP" || $1 == "->") && $2 ~ /:[0-9]+$/ { print $2, $3, $4, $5, $6, $7 }' | sort
}
stats_ezlb() {
  ezlb ipvs show --stats --state-dir /tmp/ezlb-stats-state --backend kernel \
    | awk '/ conns / { for (i = 1; i < NF; i++) v[$i] = $(i + 1); print $2, v["conns"], v["inpkts"], v["outpkts"], v["inbytes"], v["outbytes"] }' \
    | sort
}
# The kernel folds per-CPU counters every 2 s: compare only between two equal ipvsadm reads.
stats_agree() {
  _a=$(stats_ipvsadm); _e=$(stats_ezlb); _b=$(stats_ipvsadm)
  [ "$_a" = "$_b" ] && [ "$_a" = "$_e" ]
}
wait_until 10 stats_agree || true
assert_eq "ezlb ipvs show --stats = ipvsadm --stats --exact (service and both backends)" "$(stats_ipvsadm)" "$(stats_ezlb)"
assert_eq "three counter lines compared" 3 "$(stats_ipvsadm | wc -l)"
assert_eq "the counters are not all zero (400 connections went through)" "$((C1 + C2))" "$(stats_ipvsadm | awk -v s="$VIP:$VPORT" '$1 == s { print $2 }')"
json=$(ezlb ipvs show -o json --state-dir /tmp/ezlb-stats-state --backend kernel)
assert_contains "ipvs show -o json carries the service's connection counter" "$json" "\"connections\":$((C1 + C2)),"
assert_contains "ipvs show -o json carries rates" "$json" '"in_packets_per_second":'

step "weight 0: b2 gets no new connections"
ipvs_apply wrr "$B1=3 $B2=0"
assert_contains "weight 0 in the kernel" "$(ipvs_dump)" "-r $B2 -m -w 0"
hits 100
assert_eq "no failed connections" 0 "$HERR"
assert_eq "b1 takes all 100" 100 "$HB1"
assert_eq "b2 takes none" 0 "$HB2"
check_stats

step "removing b1: traffic moves to b2 only"
ipvs_apply wrr "$B2=1"
check_ipvsadm_equals "kernel holds only b2" "
  -A -t $VIP:$VPORT -s wrr
  -a -t $VIP:$VPORT -r $B2 -m -w 1
"
hits 100
assert_eq "no failed connections" 0 "$HERR"
assert_eq "b1 takes none" 0 "$HB1"
assert_eq "b2 takes all 100" 100 "$HB2"
check_stats b2

step "teardown"
ipvsadm -D -t "$VIP:$VPORT"
assert_eq "IPVS table empty" "" "$(ipvs_dump)"
vm_teardown
ip link del br-be
ip link del c-dir 2>/dev/null || true
