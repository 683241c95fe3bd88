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
  VIA_VIP=$((VIA_VIP + HB1 + HB2))
  echo "   client saw: b1=$HB1 b2=$HB2 errors/other=$HERR (of $1)"
}

# Kernel-side cross-check: IPVS's own per-real-server connection counters.
# They are cumulative and only folded from per-CPU counters every 2 s (the
# estimator), so we track how many connections went through the VIP (VIA_VIP),
# wait until the service counter reaches it, and compare per-server deltas.
VIA_VIP=0
rs_conns() {
  ipvsadm -L -n --stats --exact -t "$VIP:$VPORT" | awk -v rs="$1" '$1 == "->" && $2 == rs { print $3; f=1 } END { if (!f) print 0 }'
}
svc_conns() { ipvsadm -L -n --stats --exact -t "$VIP:$VPORT" | awk '$1 == "TCP" { print $3 }'; }
svc_conns_is() { [ "$(svc_conns)" = "$1" ]; }
stats_settle() {
  wait_until 6 svc_conns_is "$VIA_VIP" || echo "   (IPVS stats: service counter at $(svc_conns), expected $VIA_VIP)"
}
# stats_mark: settle and remember each backend's counter (S1 S2).
stats_mark() { stats_settle; S1=$(rs_conns "$B1"); S2=$(rs_conns "$B2"); }
# stats_delta: settle; D1 D2 = connections each backend got since stats_mark.
stats_delta() { stats_settle; D1=$(($(rs_conns "$B1") - S1)); D2=$(($(rs_conns "$B2") - S2)); }

step "topology"
sysctl -qw net.ipv4.ip_forward=1
ns_add client
veth_to_ns client c-dir eth0 10.0.0.2/24
ip addr add "$VIP/24" dev c-dir
ip link add br-be type bridge
ip link set br-be up
ip addr add 192.168.1.1/24 dev br-be
for b in b1 b2; do
  ns_add "$b"
  case $b in b1) addr=${B1%:*} ;; b2) addr=${B2%:*} ;; esac
  veth_to_ns "$b" "$b-dir" eth0 "$addr/24"
  ip link set "$b-dir" master br-be
  ip -n "$b" route add default via 192.168.1.1
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
case "$one" in b1|b2) VIA_VIP=$((VIA_VIP + 1)); ok "one request through the VIP answered by $one" ;; *) fail "one request through the VIP"; echo "$one" | _vm_ctx ;; esac
wait_until 10 sh -c '! kill -0 '"$tdpid"' 2>/dev/null' || kill "$tdpid" 2>/dev/null
wait "$tdpid" 2>/dev/null || true
assert_contains "SYN on the backend side: client -> real server" "$(cat /tmp/tcpdump.out)" "10.0.0.2."
case "$one" in b1) rs=$B1 ;; *) rs=$B2 ;; esac
assert_contains "SYN on the backend side targets $one's real address" "$(cat /tmp/tcpdump.out)" "> ${rs%:*}.8080:"

step "wrr 3:1 over 400 connections"
stats_mark
hits 400
assert_eq "no failed connections" 0 "$HERR"
assert_between "b1 share of 400 at weight 3 (75% +-10%)" 260 340 "$HB1"
assert_between "b2 share of 400 at weight 1 (25% +-10%)" 60 140 "$HB2"
stats_delta
assert_eq "kernel counted b1's connections" "$HB1" "$D1"
assert_eq "kernel counted b2's connections" "$HB2" "$D2"

step "weight 0: b2 gets no new connections"
ipvs_apply wrr "$B1=3 $B2=0"
assert_contains "weight 0 in the kernel" "$(ipvs_dump)" "-r $B2 -m -w 0"
stats_mark
hits 100
assert_eq "no failed connections" 0 "$HERR"
assert_eq "b1 takes all 100" 100 "$HB1"
assert_eq "b2 takes none" 0 "$HB2"
stats_delta
assert_eq "kernel counted b1's connections" "$HB1" "$D1"
assert_eq "kernel scheduled nothing to b2" 0 "$D2"

step "removing b1: traffic moves to b2 only"
ipvs_apply wrr "$B2=1"
check_ipvsadm_equals "kernel holds only b2" "
  -A -t $VIP:$VPORT -s wrr
  -a -t $VIP:$VPORT -r $B2 -m -w 1
"
stats_mark
hits 100
assert_eq "no failed connections" 0 "$HERR"
assert_eq "b1 takes none" 0 "$HB1"
assert_eq "b2 takes all 100" 100 "$HB2"
stats_delta
assert_eq "kernel counted b2's connections" "$HB2" "$D2"

step "teardown"
ipvsadm -D -t "$VIP:$VPORT"
assert_eq "IPVS table empty" "" "$(ipvs_dump)"
vm_teardown
ip link del br-be
ip link del c-dir 2>/dev/null || true
