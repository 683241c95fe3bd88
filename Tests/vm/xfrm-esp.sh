# Tests/vm/xfrm-esp.sh — IPsec between managed pods only (ezlb xfrm), ESP on a real kernel.
#
#   pod a1 10.244.1.2 (managed)   --+                                    +-- pod b1 10.244.2.2 (managed)
#                                   node A 192.168.0.1 ==veth== 192.168.0.2 node B
#   pod a2 10.244.1.100 (unmanaged) +                                    +-- pod b2 10.244.2.100 (unmanaged)
#
# Nodes and pods are network namespaces; each node routes the other's pod /24 via the
# peer's address. ezlb runs inside each node namespace with managed pods 10.244.X.0/28.
# Checks: managed<->managed is ESP on the wire (capture on node B's link, SA byte counters
# rise) and never plaintext; unmanaged<->managed and node<->pod flow in plaintext and are
# not dropped (the Kmesh regression); a converged sync makes no write, and after traffic
# takes the fast path while a hand edit does not; a generation bump
# (three syncs per node) under a continuous ping loses no packet; cleanup leaves other
# tools' policies and SAs alone.
. "${0%/*}/lib.sh"

D=/tmp/ezlb-xfrm
mkdir -p $D
modprobe esp4 2>/dev/null || true

step "topology: two nodes, two pods each"
ns_add nodeA
ns_add nodeB
ip link add ethA netns nodeA type veth peer name ethB netns nodeB
ip -n nodeA addr add 192.168.0.1/24 dev ethA
ip -n nodeB addr add 192.168.0.2/24 dev ethB
ip -n nodeA link set ethA up
ip -n nodeB link set ethB up
# pod NODE POD NAME ADDR GW: a pod namespace on a /32 point-to-point veth to its node.
pod() {
  ns_add "$2"
  ip -n "$1" link add "v$2" type veth peer name eth0 netns "$2"
  ip -n "$1" addr add "$4/32" dev "v$2" 2>/dev/null || true
  ip -n "$1" link set "v$2" up
  ip -n "$1" route add "$3/32" dev "v$2"
  ip -n "$2" addr add "$3/32" dev eth0
  ip -n "$2" link set eth0 up
  ip -n "$2" route add "$4/32" dev eth0
  ip -n "$2" route add default via "$4" dev eth0
}
pod nodeA a1 10.244.1.2 10.244.1.1
pod nodeA a2 10.244.1.100 10.244.1.1
pod nodeB b1 10.244.2.2 10.244.2.1
pod nodeB b2 10.244.2.100 10.244.2.1
for n in nodeA nodeB; do
  ns $n sysctl -qw net.ipv4.ip_forward=1
  ns $n sysctl -qw net.ipv4.conf.all.rp_filter=0
done
ip -n nodeA route add 10.244.2.0/24 via 192.168.0.2
ip -n nodeB route add 10.244.1.0/24 via 192.168.0.1

p() { ns "$1" ping -c 1 -W 3 "$2" >/dev/null 2>&1; }
assert_ok "plaintext baseline a1 -> b1" p a1 10.244.2.2
assert_ok "plaintext baseline a2 -> b1" p a2 10.244.2.2

step "other tools' xfrm objects on node A (must survive everything)"
ip -n nodeA xfrm policy add src 172.16.0.0/16 dst 172.17.0.0/16 dir out priority 100 \
  tmpl src 192.168.0.1 dst 192.168.0.9 proto esp reqid 7 mode tunnel
ip -n nodeA xfrm state add src 192.168.0.1 dst 192.168.0.9 proto esp spi 0x77 reqid 7 mode tunnel \
  aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128
foreign_pol=$(ip -n nodeA xfrm policy | grep -c 'priority 100 ')
assert_eq "foreign policy present" 1 "$foreign_pol"

step "ezlb xfrm sync on both nodes"
printf '%064x\n' 0x1234567890abcdef > $D/psk
chmod 600 $D/psk
config() { # config NODE LOCAL PEER LOCALPODS PEERPODS GEN
  cat > $D/$1.yaml <<EOF
ipsec:
  local: $2
  key_file: $D/psk
  generation: $6
  rotation_delay: 1s
  pods: [$4]
  peers:
    - address: $3
      pods: [$5]
EOF
}
gen() {
  config A 192.168.0.1 192.168.0.2 10.244.1.0/28 10.244.2.0/28 "$1"
  config B 192.168.0.2 192.168.0.1 10.244.2.0/28 10.244.1.0/28 "$1"
}
ez() { _n=$1; shift; ns node$_n ezlb xfrm "$@" --state-dir $D/st$_n --backend kernel; }
sync_() { _m=$1; shift; ez "$_m" sync -c $D/$_m.yaml "$@"; }
gen 1
assert_ok "node A: xfrm sync" sync_ A
assert_ok "node B: xfrm sync" sync_ B
ip -n nodeA xfrm policy | sed 's/^/   A| /'
assert_eq "node A: 3 ezlb policies (out, in, fwd)" 3 "$(ip -n nodeA xfrm policy | grep -c 'priority 31000 ')"
assert_eq "node A: 2 ezlb SAs + 1 foreign" 3 "$(ip -n nodeA xfrm state | grep -c '^src ')"
show=$(ez A show)
printf '%s\n' "$show" | sed 's/^/   show| /'
assert_contains "xfrm show hides keys" "$show" "<160-bit key>"
assert_not_contains "xfrm show prints no key bytes" "$(ez A show -o json)" "0x0102"

# out_bytes NODE SRC DST: the byte counter of the SA src -> dst.
sa_bytes() { ip -n "$1" -s -o xfrm state | grep "^src $2 dst $3[^0-9]" | grep -o '[0-9][0-9]*(bytes)' | head -1 | cut -d'(' -f1; }
# received / transmitted: counts from a ping summary on stdin (busybox or iputils wording).
received() { grep -o '[0-9][0-9]* \(packets \)\{0,1\}received' | cut -d' ' -f1; }
transmitted() { grep -o '[0-9][0-9]* packets transmitted' | cut -d' ' -f1; }
# capture: what both nodes put on the wire (egress of each link end: -Q out, so the
# plaintext the kernel re-injects on ingress after ESP decryption is not counted) while
# running a command; the packets end up in $D/cap.out.
capture() {
  ip netns exec nodeA tcpdump -Q out -i ethA -n -l 'esp or icmp' > $D/capA.out 2> $D/capA.err &
  _ta=$!
  ip netns exec nodeB tcpdump -Q out -i ethB -n -l 'esp or icmp' > $D/capB.out 2> $D/capB.err &
  _tb=$!
  wait_until 10 grep -q 'listening on' $D/capA.err || die "tcpdump did not start: $(cat $D/capA.err)"
  wait_until 10 grep -q 'listening on' $D/capB.err || die "tcpdump did not start: $(cat $D/capB.err)"
  "$@" || true
  sleep 0.5
  kill $_ta $_tb 2>/dev/null || true
  wait $_ta 2>/dev/null || true
  wait $_tb 2>/dev/null || true
  cat $D/capA.out $D/capB.out > $D/cap.out
}

step "managed <-> managed: ESP on the wire"
before=$(sa_bytes nodeA 192.168.0.1 192.168.0.2)
capture ns a1 ping -c 5 -W 3 10.244.2.2
ok_pings=$(ns a1 ping -c 3 -W 3 10.244.2.2 | received)
assert_eq "a1 -> b1 pings answered through ESP" 3 "$ok_pings"
after=$(sa_bytes nodeA 192.168.0.1 192.168.0.2)
assert_between "node A OUT SA byte counter rose" $((before + 1)) 100000000 "$after"
assert_between "node B IN SA (from A) counted the bytes" 1 100000000 "$(sa_bytes nodeB 192.168.0.1 192.168.0.2)"
esp=$(grep -c ': ESP(spi=' $D/cap.out || true)
plain=$(grep -c '10.244.1.2 > 10.244.2.2: ICMP\|10.244.2.2 > 10.244.1.2: ICMP' $D/cap.out || true)
assert_between "ESP packets on the wire (requests and replies)" 10 1000 "$esp"
assert_eq "no plaintext managed ICMP on the link" 0 "$plain"
head -3 $D/cap.out | sed 's/^/   wire| /'

step "unmanaged <-> managed and node <-> pod: plaintext, not dropped (the Kmesh regression)"
capture sh -c 'ip netns exec a2 ping -c 3 -W 3 10.244.2.2 > '$D'/p1.out; ip netns exec a1 ping -c 3 -W 3 10.244.2.100 > '$D'/p2.out; ip netns exec nodeA ping -c 3 -W 3 10.244.2.2 > '$D'/p3.out'
assert_eq "unmanaged a2 -> managed b1 answered" 3 "$(received < $D/p1.out)"
assert_eq "managed a1 -> unmanaged b2 answered" 3 "$(received < $D/p2.out)"
assert_eq "node A -> managed b1 answered" 3 "$(received < $D/p3.out)"
assert_between "a2 -> b1 crossed the wire in plaintext" 3 100 "$(grep -c '10.244.1.100 > 10.244.2.2: ICMP echo request' $D/cap.out || true)"
assert_between "a1 -> b2 crossed the wire in plaintext" 3 100 "$(grep -c '10.244.1.2 > 10.244.2.100: ICMP echo request' $D/cap.out || true)"
assert_eq "none of it was ESP" 0 "$(grep -c ': ESP(spi=' $D/cap.out || true)"
for n in nodeA nodeB; do
  drops=$(ns $n cat /proc/net/xfrm_stat | awk '$1 ~ /XfrmInNoPols|XfrmInTmplMismatch|XfrmInNoStates|XfrmFwdHdrError|XfrmOutNoStates|XfrmInStateProtoError/ { s += $2 } END { print s + 0 }')
  assert_eq "$n: no xfrm drop counters" 0 "$drops"
done

step "converged: a second sync makes no netlink write"
js=$(sync_ A -o json)
assert_contains "node A changed false" "$js" '"changed":false'
assert_contains "node A writes 0" "$js" '"writes":0'
assert_contains "node B writes 0" "$(sync_ B -o json)" '"writes":0'

step "converged fast path (xfrm.converged): traffic does not count, a hand edit does"
# The SAs' counters, replay state and last use moved with the pings above: still a hit.
HIT="converged: xfrm.converged matches the kernel and the inputs"
vv=$(sync_ A -vv 2>&1)
assert_contains "node A: fast path after traffic" "$vv" "$HIT"
ns a1 ping -c 2 -W 3 10.244.2.2 >/dev/null 2>&1 || true
assert_contains "node A: fast path after more traffic" "$(sync_ A -vv 2>&1)" "$HIT"
ip -n nodeA xfrm policy delete src 10.244.1.0/28 dst 10.244.2.0/28 dir out
vv=$(sync_ A -o json -vv 2>&1)
assert_not_contains "node A: a policy deleted by hand takes the full path" "$vv" "$HIT"
assert_contains "node A: ... and is put back" "$vv" '"changed":true'
assert_eq "node A: 3 ezlb policies again" 3 "$(ip -n nodeA xfrm policy | grep -c 'priority 31000 ')"
assert_contains "node A: then converged again" "$(sync_ A -vv 2>&1)" "$HIT"
ip -n nodeA xfrm policy add src 172.18.0.0/16 dst 172.19.0.0/16 dir in priority 200
assert_not_contains "node A: a foreign policy added takes the full path" "$(sync_ A -o json -vv 2>&1)" "$HIT"
ip -n nodeA xfrm policy delete src 172.18.0.0/16 dst 172.19.0.0/16 dir in
assert_contains "node A: converged (full path) after it is gone" "$(sync_ A -o json)" '"changed":false'

step "key rotation under a continuous ping (generation 1 -> 2)"
ns a1 ping -i 0.1 -c 80 -W 2 10.244.2.2 > $D/rot.out 2>&1 &
rot=$!
sleep 1
gen 2
assert_ok "A step 1 (accept gen 2)" sync_ A
assert_ok "B step 1 (accept gen 2)" sync_ B
assert_eq "node A: 3 SAs of ezlb (IN 1+2, OUT 1)" 3 "$(ip -n nodeA xfrm state | grep -c 'reqid 237043713')"
sleep 1.2
vv=$(sync_ A -o json -vv 2>&1)
assert_contains "A step 2 (OUT -> gen 2): the rotation deadline passed, full path" "$vv" "rotation: out generation 1 -> 2"
assert_contains "A step 2 (OUT -> gen 2) switched" "$vv" '"out":2'
sleep 0.5
assert_ok "B step 2 (OUT -> gen 2)" sync_ B
sleep 1.2
assert_ok "A step 3 (drop gen 1)" sync_ A
assert_ok "B step 3 (drop gen 1)" sync_ B
wait $rot || true
tail -2 $D/rot.out | sed 's/^/   ping| /'
tx=$(transmitted < $D/rot.out)
rx=$(received < $D/rot.out)
assert_eq "no packet lost during rotation (transmitted = received)" "$tx" "$rx"
assert_between "the ping ran through the whole rotation" 40 80 "${rx:-0}"
assert_eq "node A: 2 SAs of ezlb after rotation" 2 "$(ip -n nodeA xfrm state | grep -c 'reqid 237043713')"
new_out=$(sa_bytes nodeA 192.168.0.1 192.168.0.2)
assert_between "gen 2 OUT SA carries the traffic" 1 100000000 "$new_out"
assert_contains "rotation done" "$(sync_ A -o json)" '"rotation":{"accepting":[2],"out":2}'
assert_ok "a1 -> b1 after rotation" p a1 10.244.2.2

step "cleanup: ezlb's objects only"
assert_ok "node A: xfrm cleanup" ez A cleanup
assert_ok "node B: xfrm cleanup" ez B cleanup
assert_eq "node A: only the foreign policy left" "1 1" "$(ip -n nodeA xfrm policy | grep -c '^src ') $(ip -n nodeA xfrm policy | grep -c 'priority 100 ')"
assert_eq "node A: only the foreign SA left" "1" "$(ip -n nodeA xfrm state | grep -c '^src ')"
assert_eq "node B: nothing left" "" "$(ip -n nodeB xfrm policy; ip -n nodeB xfrm state)"
assert_ok "a1 -> b1 plaintext again" p a1 10.244.2.2
assert_contains "cleanup again changes nothing" "$(ez A cleanup -o json)" '"changed":false'
