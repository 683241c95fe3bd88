# Tests/vm/ipvs-show-order.sh — `ezlb ipvs show --format ipvsadm` prints exactly
# what `ipvsadm -S -n` prints, in the same order, for tables built by another
# tool in scrambled order: IPv4/IPv6, tcp/udp/sctp, fwmark services, and
# addresses more than 2^31 apart (libipvs' comparator wraps there, so the order
# is glibc qsort's answer, not a plain sort).
. "${0%/*}/lib.sh"

W=/tmp/ezlb-order
rm -rf "$W"; mkdir -p "$W"
ipvsadm -C

step "build a scrambled table with ipvsadm"
for vip in 200.0.0.1 1.0.0.1 100.0.0.1 10.0.0.1 240.0.0.1 127.0.0.1 128.0.0.1 5.0.0.1; do
  ipvsadm -A -t "$vip:80" -s rr
  for rip in 192.168.9.9 10.1.1.1 250.1.1.1 3.3.3.3 129.1.1.1; do
    ipvsadm -a -t "$vip:80" -r "$rip:8080" -m -w 1
  done
done
ipvsadm -A -u 10.0.0.1:53 -s wrr
ipvsadm -a -u 10.0.0.1:53 -r 10.2.0.2:53 -m -w 2
ipvsadm -A --sctp-service 10.0.0.1:3868 -s lc
ipvsadm -A -t '[2001:db8::1]:443' -s sh -p 120 -M 64
ipvsadm -a -t '[2001:db8::1]:443' -r '[fe80::1:2]:443' -m -w 1 2>/dev/null || true
ipvsadm -a -t '[2001:db8::1]:443' -r '[2001:db8:ffff::2]:443' -m -w 3
ipvsadm -a -t '[2001:db8::1]:443' -r '[2001:db8:1::2]:443' -m -w 3 -x 100 -y 50
ipvsadm -A -t '[ffff::1]:443' -s rr
ipvsadm -A -f 7 -s rr
ipvsadm -a -f 7 -r 10.3.3.3:0 -g -w 1
ipvsadm -A -f 3000000000 -s rr
ipvsadm -A -f 5 -6 -s rr
# Tunnel destinations: ipvsadm 1.31 saves them with --tun-type (and gue's port, the checksum option).
ipvsadm -A -t 10.9.0.1:80 -s rr
ipvsadm -a -t 10.9.0.1:80 -r 10.9.1.1:80 -i -w 1
ipvsadm -a -t 10.9.0.1:80 -r 10.9.1.2:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum
ipvsadm -a -t 10.9.0.1:80 -r 10.9.1.3:80 -i -w 1 --tun-type gre --tun-csum

step "compare"
ipvsadm -S -n > "$W/ipvsadm.txt"
assert_contains "ipvsadm saves an ipip tunnel with --tun-type ipip" "$(cat "$W/ipvsadm.txt")" "-r 10.9.1.1:80 -i -w 1 --tun-type ipip"
assert_contains "ipvsadm saves a gue tunnel with its port" "$(cat "$W/ipvsadm.txt")" "--tun-type gue --tun-port 6080 --tun-csum"
if ezlb ipvs show --format ipvsadm --state-dir "$W/state" --backend kernel > "$W/ezlb.txt" 2> "$W/err"; then
  ok "ezlb ipvs show --format ipvsadm ran"
else
  fail "ezlb ipvs show --format ipvsadm ran"; _vm_ctx < "$W/err"
fi
if cmp -s "$W/ipvsadm.txt" "$W/ezlb.txt"; then
  ok "identical to ipvsadm -S -n ($(wc -l < "$W/ipvsadm.txt") lines)"
else
  fail "identical to ipvsadm -S -n"; diff "$W/ipvsadm.txt" "$W/ezlb.txt" | _vm_ctx
fi
ipvsadm -C
