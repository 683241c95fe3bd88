# Tests/vm/snat-fullnat-nft.sh — FullNAT on real IPVS with the nftables backend
# (ezlb ipvs apply + ezlb snat sync --firewall nftables), behind an nftables.service-style
# forward chain with policy drop.
#
#   netns client (10.0.0.2) --veth-- director = guest root netns --veth-- netns b1 (192.168.1.10:8080)
#                                    VIP 10.0.0.1:80                      b1-dir: 192.168.1.1/24 + 192.168.1.3/24
#
# The backend has no route back to the client, so a reply reaches the client only when the
# director rewrote the source (FullNAT). Checks: the drop policy drops the replies and
# `ezlb doctor` says so with the command that admits them; after it, end to end with the
# snat_ip and with MASQUERADE (tcpdump on the backend's side); the nft table read back;
# a converged sync writes nothing; direct client -> backend traffic is not SNATed; cleanup
# leaves only the admin's table.
. "${0%/*}/lib.sh"

VIP=10.0.0.1
B1=192.168.1.10
ST=/tmp/ezlb-snat-nft/state
mkdir -p /tmp/ezlb-snat-nft

command -v nft >/dev/null || { skip "no nft command in the guest (the host lacks the nftables package)"; exit 0; }

config() { # config SNAT_LINE
  cat > /tmp/ezlb-snat-nft/ezlb.yaml <<EOF
services:
  - name: web
    listen: "$VIP:80"
    scheduler: rr
    forward: masq
    full_nat: true
$1
    backends:
      - address: "$B1:8080"
EOF
}
ezlb_() { EZLB_FIREWALL=nftables ezlb "$@" -c /tmp/ezlb-snat-nft/ezlb.yaml --state-dir "$ST" --backend kernel; }

request() { timeout 8 ip netns exec client wget -q -O - "http://$1/" 2>/dev/null || echo ERR; }


step "topology"
fullnat_topology "$VIP" "$B1"
cat > /tmp/ezlb-snat-nft/admin.nft <<'EOF'
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
  }
}
EOF
assert_ok "the admin's forward chain: policy drop (nftables.service style)" nft -f /tmp/ezlb-snat-nft/admin.nft

step "IPVS NAT + nftables SNAT behind the drop policy"
config "    snat_ip: 192.168.1.3"
assert_ok "ezlb ipvs apply" ezlb_ ipvs apply
ezlb_ doctor --fix > /dev/null 2>&1 || true
assert_eq "net.ipv4.vs.conntrack set by doctor --fix" 1 "$(cat /proc/sys/net/ipv4/vs/conntrack)"
assert_ok "ezlb snat sync --firewall nftables" ezlb_ snat sync
assert_contains "table inet ezlb holds the backend" "$(nft list set inet ezlb svc4)" "10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080"
assert_contains "and its snat_ip" "$(nft list map inet ezlb svc4_snat)" "10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080 : 192.168.1.3"
# Direct traffic comes from a client of its own (10.0.2.2): IPVS keys its NAT connections by
# the client's address and port, and connections of earlier scenarios (client 10.0.0.2, the
# same backend) outlive them in IPVS's table; a direct connection that reused one of their
# client ports had its replies taken by IPVS.
step "direct client -> backend traffic keeps the client's address"
ns_add direct
veth_to_ns direct d-dir eth0 10.0.2.2/24
ip addr add 10.0.2.1/24 dev d-dir
ip -n direct route add 192.168.1.0/24 via 10.0.2.1
ip -n b1 route add 10.0.2.0/24 via 192.168.1.1
nft insert rule inet filter forward ip saddr 10.0.2.2 ip daddr "$B1" accept
nft insert rule inet filter forward ip saddr "$B1" ip daddr 10.0.2.2 accept
src=$(syn_source b1-dir "http://$B1:8080/" direct)
assert_eq "direct request answered" b1 "$(cat /tmp/reply.body)"
assert_eq "backend sees the client (not SNATed)" 10.0.2.2 "$src"
nft delete table inet filter
assert_ok "the admin's forward chain again, without the direct rules" nft -f /tmp/ezlb-snat-nft/admin.nft

step "through the VIP"
assert_eq "the drop policy drops the replies" ERR "$(request $VIP)"
out=$(ezlb_ doctor -o json 2>/dev/null || true)
assert_contains "doctor fails the forward path" "$out" '"name":"forward path: table inet filter chain forward","status":"fail"'
fix=$(printf '%s' "$out" | sed -n 's/.*"fix_command":"\([^"]*\)".*/\1/p' | head -1)
assert_eq "doctor's fix" "nft insert rule inet filter forward meta mark & 0x200000 == 0x200000 accept" "$fix"
# shellcheck disable=SC2086 # the command is words
assert_ok "the fix runs" $fix
src=$(syn_source b1-dir "http://$VIP/")
assert_eq "end to end through the VIP after the fix" b1 "$(cat /tmp/reply.body)"
assert_eq "backend sees the snat_ip as source" 192.168.1.3 "$src"
out=$(ezlb_ doctor -o json 2>/dev/null || true)
assert_contains "doctor: the forward path is fine now" "$out" '"name":"forward path","status":"ok"'

step "converged: a second sync writes nothing"
js=$(ezlb_ snat sync -o json)
assert_contains "changed false" "$js" '"changed":false'

step "MASQUERADE (no snat_ip): one element less"
config ""
js=$(ezlb_ snat sync -o json)
assert_contains "the map element goes" "$js" '- nft delete element inet ezlb svc4_snat { 10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080 : 192.168.1.3 }'
src=$(syn_source b1-dir "http://$VIP/")
assert_eq "end to end with MASQUERADE" b1 "$(cat /tmp/reply.body)"
assert_eq "backend sees the out-interface's primary address" 192.168.1.1 "$src"

step "cleanup"
assert_ok "ezlb snat cleanup" ezlb_ snat cleanup
assert_eq "only the admin's table is left" "table inet filter" "$(nft list tables)"
assert_ok "ezlb ipvs cleanup" ezlb_ ipvs cleanup
nft flush ruleset
vm_teardown
ip link del c-dir 2>/dev/null || true
ip link del d-dir 2>/dev/null || true
