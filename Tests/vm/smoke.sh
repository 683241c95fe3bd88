# Tests/vm/smoke.sh — proves the VM harness: real IPVS via ipvsadm, module
# autoload through busybox modprobe, all schedulers, IPv6/SCTP/fwmark services,
# and that the other kernel features later scenarios need are loadable.
. "${0%/*}/lib.sh"

step "module autoload plumbing"
assert_eq "kernel.modprobe is /sbin/modprobe" "/sbin/modprobe" "$(cat /proc/sys/kernel/modprobe)"
assert_eq "/sbin/modprobe is busybox" "/usr/bin/busybox" "$(readlink -f /sbin/modprobe)"
assert_ok "modules.dep present for $(uname -r)" test -s "/lib/modules/$(uname -r)/modules.dep"

step "basic wrr service"
assert_ok "ipvsadm -A -t 10.0.0.1:80 -s wrr" ipvsadm -A -t 10.0.0.1:80 -s wrr
assert_contains "ip_vs loaded on demand" "$(lsmod)" "ip_vs "
assert_ok "ipvsadm -a ... -m -w 3" ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 3
check_ipvsadm_equals "ipvsadm -S -n shows the service" "
  -A -t 10.0.0.1:80 -s wrr
  -a -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 3
"
assert_fails "duplicate service is rejected" ipvsadm -A -t 10.0.0.1:80 -s wrr
assert_ok "ipvsadm -C" ipvsadm -C
assert_eq "table empty after -C" "" "$(ipvs_dump)"

step "schedulers"
i=0
expected=""
for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos; do
  i=$((i + 1))
  if [ "$s" = twos ] && ! grep -q '/ip_vs_twos\.ko' "/lib/modules/$(uname -r)/modules.dep"; then
    # ip_vs_twos was added upstream after 6.1 (6.6 has it); Debian 12 (6.1) lacks it.
    skip "scheduler twos: no ip_vs_twos module in kernel $(uname -r)"
    assert_fails "scheduler twos is refused, not silently accepted" ipvsadm -A -t "10.2.0.$i:80" -s twos
    continue
  fi
  assert_ok "scheduler $s: add service" ipvsadm -A -t "10.2.0.$i:80" -s "$s"
  assert_contains "scheduler $s: ip_vs_$s loaded" "$(lsmod)" "ip_vs_$s "
  expected="$expected
-A -t 10.2.0.$i:80 -s $s"
done
check_ipvsadm_equals "all schedulers listed" "$expected"
assert_fails "unknown scheduler is refused" ipvsadm -A -t 10.2.0.99:80 -s nosuchsched
ipvsadm -C

step "IPv6, UDP, SCTP, fwmark, persistence, forwarding methods"
assert_ok "IPv6 service" ipvsadm -A -t "[2001:db8::1]:80" -s rr
assert_ok "IPv6 real server (masq)" ipvsadm -a -t "[2001:db8::1]:80" -r "[2001:db8::10]:8080" -m -w 2
assert_ok "UDP service" ipvsadm -A -u 10.0.0.1:53 -s sh
assert_ok "UDP real server (route)" ipvsadm -a -u 10.0.0.1:53 -r 10.0.0.53 -g
assert_ok "SCTP service" ipvsadm -A --sctp-service 10.0.0.1:5000 -s lc
assert_ok "SCTP real server (tunnel)" ipvsadm -a --sctp-service 10.0.0.1:5000 -r 192.168.1.20:5000 -i
assert_ok "fwmark service" ipvsadm -A -f 42 -s wlc
assert_ok "fwmark real server" ipvsadm -a -f 42 -r 192.168.1.30:0 -m -w 5
assert_ok "IPv6 fwmark service" ipvsadm -A -f 43 -6 -s rr
assert_ok "persistent service" ipvsadm -A -t 10.0.0.2:443 -s wrr -p 300 -M 255.255.255.0
check_ipvsadm_equals "ipvsadm -S -n shows every kind" "
  -A -t [2001:db8::1]:80 -s rr
  -a -t [2001:db8::1]:80 -r [2001:db8::10]:8080 -m -w 2
  -A -u 10.0.0.1:53 -s sh
  -a -u 10.0.0.1:53 -r 10.0.0.53:53 -g -w 1
  -A --sctp-service 10.0.0.1:5000 -s lc
  -a --sctp-service 10.0.0.1:5000 -r 192.168.1.20:5000 -i -w 1 --tun-type ipip
  -A -f 42 -s wlc
  -a -f 42 -r 192.168.1.30:0 -m -w 5
  -A -f 43 -6 -s rr
  -A -t 10.0.0.2:443 -s wrr -p 300 -M 255.255.255.0
"
assert_ok "edit weight to 0 (-e)" ipvsadm -e -f 42 -r 192.168.1.30:0 -m -w 0
assert_contains "weight 0 visible" "$(ipvs_dump)" "-a -f 42 -r 192.168.1.30:0 -m -w 0"
assert_ok "delete real server" ipvsadm -d -u 10.0.0.1:53 -r 10.0.0.53:53
assert_ok "delete service" ipvsadm -D --sctp-service 10.0.0.1:5000
assert_not_contains "sctp service gone" "$(ipvs_dump)" "sctp-service"
assert_ok "ipvsadm -C" ipvsadm -C

step "other kernel features later scenarios use"
for m in nf_conntrack nf_nat veth bridge esp4 esp6 xfrm_user sctp ipip ip6_tunnel xt_comment xt_conntrack xt_MASQUERADE iptable_nat; do
  assert_ok "modprobe $m" modprobe "$m"
done
assert_ok "iptables (nft) nat MASQUERADE with comment" \
  iptables -t nat -A POSTROUTING -s 10.9.0.0/24 -m conntrack --ctstate NEW -m comment --comment ezlb-smoke -j MASQUERADE
assert_contains "iptables -S shows the rule" "$(iptables -t nat -S POSTROUTING)" "ezlb-smoke"
iptables -t nat -F POSTROUTING
assert_ok "iptables-legacy nat SNAT" iptables-legacy -t nat -A POSTROUTING -s 10.9.0.0/24 -j SNAT --to-source 10.9.0.1
iptables-legacy -t nat -F POSTROUTING
assert_ok "bridge + veth" sh -c 'ip link add smk-br type bridge && ip link add smk-a type veth peer name smk-b && ip link set smk-a master smk-br && ip link del smk-a && ip link del smk-br'
assert_ok "xfrm ESP state (aes-cbc/hmac-sha256)" ip xfrm state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x100 mode tunnel \
  enc 'cbc(aes)' 0x00112233445566778899aabbccddeeff auth-trunc 'hmac(sha256)' 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 128
assert_contains "xfrm state listed" "$(ip xfrm state)" "spi 0x00000100"
ip xfrm state flush
assert_ok "ipip tunnel" sh -c 'ip link add smk-ipip type ipip local 10.9.0.1 remote 10.9.0.2 && ip link del smk-ipip'
