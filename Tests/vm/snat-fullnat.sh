# Tests/vm/snat-fullnat.sh — FullNAT: IPVS NAT (ezlb ipvs apply) + iptables SNAT (ezlb snat sync
# --firewall iptables; snat-fullnat-nft.sh is the nftables backend).
#
#   netns client (10.0.0.2) --veth-- director = guest root netns --veth-- netns b1 (192.168.1.10:8080)
#                                    VIP 10.0.0.1:80                      b1-dir: 192.168.1.1/24 + 192.168.1.3/24
#
# The backend has NO route back to the client (only its connected /24), so a reply
# can only reach the client when the director rewrote the source to one of its
# own addresses: FullNAT. The director's FORWARD policy is DROP.
# Checks: without SNAT nothing works; with `snat sync` and snat_ip the backend sees
# 192.168.1.3 (tcpdump), with MASQUERADE the out-interface's primary address
# 192.168.1.1; probe rules count which direction crosses FORWARD; a second sync
# commits nothing; removing full_nat removes every rule again.
. "${0%/*}/lib.sh"

VIP=10.0.0.1
B1=192.168.1.10
VIP6=2001:db8:a::1
B16=2001:db8:b::10
ST=/tmp/ezlb-snat/state
mkdir -p /tmp/ezlb-snat

config() { # config SNAT_LINE FULL_NAT [V6_SNAT_LINE]: the IPv4 service, plus the IPv6 one when a third argument is given
  cat > /tmp/ezlb-snat/ezlb.yaml <<EOF
services:
  - name: web
    listen: "$VIP:80"
    scheduler: rr
    forward: masq
    full_nat: $2
$1
    backends:
      - address: "$B1:8080"
EOF
  [ $# -ge 3 ] || return 0
  cat >> /tmp/ezlb-snat/ezlb.yaml <<EOF
  - name: web6
    listen: "[$VIP6]:80"
    scheduler: rr
    full_nat: true
$3
    backends:
      - address: "[$B16]:8080"
EOF
}
ezlb_() { EZLB_FIREWALL=iptables ezlb "$@" -c /tmp/ezlb-snat/ezlb.yaml --state-dir "$ST" --backend kernel; }

# request: one HTTP request from the client through the VIP; prints the body or ERR.
request() { timeout 8 ip netns exec client wget -q -O - "http://$VIP/" 2>/dev/null || echo ERR; }


legacy_ezlb() { { iptables-legacy-save; ip6tables-legacy-save; } | grep -i ezlb || true; }

step "topology"
fullnat_topology "$VIP" "$B1"
ok "backend serves on $B1:8080 (no route back to 10.0.0.0/24)"
iptables-legacy -P FORWARD DROP
ok "director FORWARD policy DROP"

step "IPVS NAT only (ezlb ipvs apply): the reply cannot come back"
config "    snat_ip: 192.168.1.3" true
assert_ok "ezlb ipvs apply" ezlb_ ipvs apply
# Before snat sync the DROP policy drops FullNAT's replies: doctor says so (and exits 1).
out=$(ezlb_ doctor --fix 2>&1 || true)
printf '%s\n' "$out" | sed 's/^/   /'
assert_contains "doctor: the legacy DROP policy drops the replies (no EZLB-FORWARD yet)" "$out" "FAIL  forward path: ip filter FORWARD (legacy x_tables): drops FullNAT replies"
assert_eq "net.ipv4.vs.conntrack set by doctor --fix" 1 "$(cat /proc/sys/net/ipv4/vs/conntrack)"
assert_eq "request fails without SNAT" ERR "$(request)"

step "snat sync with snat_ip 192.168.1.3"
assert_ok "ezlb snat sync" ezlb_ snat sync
exp_nat='-A POSTROUTING -j EZLB-SNAT
-A EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j SNAT --to-source 192.168.1.3'
assert_eq "iptables-legacy-save -t nat: ezlb's rules" "$exp_nat" "$(iptables-legacy-save -t nat | grep -e '-A POSTROUTING -j EZLB' -e '-A EZLB-SNAT')"
exp_fwd='-A FORWARD -j EZLB-FORWARD
-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT
-A EZLB-FORWARD -s 192.168.1.10/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j ACCEPT'
assert_eq "iptables-legacy-save -t filter: ezlb's rules" "$exp_fwd" "$(iptables-legacy-save -t filter | grep -e '-A FORWARD' -e '-A EZLB-FORWARD')"
assert_contains "doctor after snat sync: EZLB-FORWARD admits the replies" "$(ezlb_ doctor 2>&1 || true)" "ok    forward path: no chain on the forward hook drops FullNAT replies"
src=$(syn_source b1-dir "http://$VIP/")
assert_eq "end to end through the VIP with FORWARD DROP" b1 "$(cat /tmp/reply.body)"
assert_eq "backend sees the snat_ip as source" 192.168.1.3 "$src"

step "which direction crosses FORWARD (probe counters)"
iptables-legacy -I FORWARD 1 -d "$B1" -p tcp --dport 8080
iptables-legacy -I FORWARD 1 -s "$B1" -p tcp --sport 8080
iptables-legacy -Z
for i in 1 2 3 4 5; do request > /dev/null; done
counters=$(iptables-legacy -L FORWARD -v -n -x)
printf '%s\n' "$counters" | sed 's/^/   /'
to_b=$(printf '%s\n' "$counters" | awk '$0 ~ /dpt:8080/ { print $1 }')
from_b=$(printf '%s\n' "$counters" | awk '/spt:8080/ { print $1; exit }')
assert_eq "requests (-d backend --dport) never cross FORWARD (IPVS: LOCAL_IN -> LOCAL_OUT)" 0 "$to_b"
assert_between "replies (-s backend --sport) cross FORWARD before IPVS un-NATs them" 5 100000 "$from_b"
snat_pk=$(iptables-legacy -t nat -L EZLB-SNAT -v -n -x | awk '$3 == "SNAT" { print $1 }')
assert_between "EZLB-SNAT rule matched each new connection in POSTROUTING" 5 100000 "$snat_pk"
iptables-legacy -D FORWARD -s "$B1" -p tcp --sport 8080
iptables-legacy -D FORWARD -d "$B1" -p tcp --dport 8080

step "converged: a second sync commits nothing"
js=$(ezlb_ snat sync -o json)
assert_contains "changed false" "$js" '"changed":false'
assert_contains "no iptc_commit" "$js" '"commits":0'

step "flushed by hand: restored"
iptables-legacy -t nat -F EZLB-SNAT
assert_eq "request fails after the flush" ERR "$(request)"
assert_ok "ezlb snat sync" ezlb_ snat sync
assert_eq "rules restored" "$exp_nat" "$(iptables-legacy-save -t nat | grep -e '-A POSTROUTING -j EZLB' -e '-A EZLB-SNAT')"
assert_eq "works again" b1 "$(request)"

step "MASQUERADE (no snat_ip)"
config "" true
assert_ok "ezlb snat sync" ezlb_ snat sync
assert_contains "MASQUERADE rule" "$(iptables-legacy-save -t nat)" '-A EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j MASQUERADE'
src=$(syn_source b1-dir "http://$VIP/")
assert_eq "end to end with MASQUERADE" b1 "$(cat /tmp/reply.body)"
assert_eq "backend sees the out-interface's primary address" 192.168.1.1 "$src"

step "IPv6 FullNAT through libip6tc (snat_ip 2001:db8:b::3)"
sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n client addr add 2001:db8:a::2/64 dev eth0 nodad
ip addr add "$VIP6/64" dev c-dir nodad
ip -n b1 addr add "$B16/64" dev eth0 nodad
ip addr add 2001:db8:b::1/64 dev b1-dir nodad
ip addr add 2001:db8:b::3/64 dev b1-dir nodad
ip6tables-legacy -P FORWARD DROP
config "" true "    snat_ip: 2001:db8:b::3"
assert_ok "ezlb ipvs apply (with the IPv6 service)" ezlb_ ipvs apply
assert_ok "ezlb snat sync" ezlb_ snat sync
exp6='-A POSTROUTING -j EZLB-SNAT
-A EZLB-SNAT -d 2001:db8:b::10/128 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 2001:db8:a::1 --ctorigdstport 80 -m comment --comment "ezlb:web6" -j SNAT --to-source 2001:db8:b::3'
assert_eq "ip6tables-legacy-save -t nat: ezlb's rules" "$exp6" "$(ip6tables-legacy-save -t nat | grep -e '-A POSTROUTING -j EZLB' -e '-A EZLB-SNAT')"
assert_contains "ip6tables-legacy-save -t filter: reply accept" "$(ip6tables-legacy-save -t filter)" '-A EZLB-FORWARD -s 2001:db8:b::10/128 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 2001:db8:a::1 --ctorigdstport 80 -m comment --comment "ezlb:web6" -j ACCEPT'
tcpdump -i b1-dir -n -l -c 1 'ip6 and tcp dst port 8080' > /tmp/td6.out 2> /tmp/td6.err &
td6=$!
wait_until 10 grep -q 'listening on' /tmp/td6.err || die "tcpdump did not start: $(cat /tmp/td6.err)"
body6=$(timeout 8 ip netns exec client wget -q -O - "http://[$VIP6]:80/" 2>/dev/null || echo ERR)
wait_until 5 sh -c '! kill -0 '"$td6"' 2>/dev/null' || kill "$td6" 2>/dev/null
wait "$td6" 2>/dev/null || true
assert_eq "IPv6 end to end through the VIP with FORWARD DROP" b1 "$body6"
assert_contains "IPv6 backend sees the snat_ip as source" "$(cat /tmp/td6.out)" "2001:db8:b::3."
config "" true
assert_ok "ezlb snat sync (IPv6 service removed)" ezlb_ snat sync
assert_not_contains "no ezlb chain left in ip6tables" "$(ip6tables-legacy-save)" "EZLB"
ip6tables-legacy -P FORWARD ACCEPT

step "a foreign jump into EZLB-SNAT: libiptc's errno reaches ezlb"
iptables-legacy -t nat -I POSTROUTING -s 198.51.100.7/32 -j EZLB-SNAT
out=$(ezlb_ snat cleanup -o json 2>/dev/null || true)
assert_contains "cleanup names the kernel's EMLINK" "$out" "chain is still referenced by another rule (Too many links)"
assert_ok "the table commit failed as a whole: EZLB-SNAT is still there" iptables-legacy -t nat -S EZLB-SNAT
iptables-legacy -t nat -D POSTROUTING -s 198.51.100.7/32 -j EZLB-SNAT

step "full_nat removed: every rule gone"
config "" false
assert_ok "ezlb snat sync" ezlb_ snat sync
assert_eq "no ezlb rule or chain left (iptables-legacy-save)" "" "$(legacy_ezlb)"
assert_eq "request fails again" ERR "$(request)"

step "teardown"
assert_ok "ezlb snat cleanup (nothing left)" ezlb_ snat cleanup
assert_ok "ezlb ipvs cleanup" ezlb_ ipvs cleanup
iptables-legacy -P FORWARD ACCEPT
vm_teardown
ip link del c-dir 2>/dev/null || true
