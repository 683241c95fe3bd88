# Tests/vm/ipvs-cli.sh — the ezlb CLI against the real kernel, cross-checked
# with ipvsadm: apply / re-apply (no write) / plan / show --format ipvsadm /
# hand repairs / edits in place / foreign services untouched / cleanup.
. "${0%/*}/lib.sh"

command -v ezlb >/dev/null || die "no ezlb binary in the guest (built with EZLB_VM_EZLB=none?)"
W=/tmp/ezlb-cli
rm -rf "$W"; mkdir -p "$W"
ST="--state-dir $W/state --backend kernel"

# ez ARGS...: run ezlb, keep stdout in $W/out and the exit status in EZ_RC.
ez() {
  EZ_RC=0
  ezlb "$@" > "$W/out" 2> "$W/err" || EZ_RC=$?
}
# assert_ez WHAT RC ARGS...: ezlb ARGS must exit RC (output shown otherwise).
assert_ez() {
  _what=$1; _want=$2; shift 2
  ez "$@"
  if [ "$EZ_RC" = "$_want" ]; then ok "$_what"; else
    fail "$_what"
    { echo "ezlb $* -> exit $EZ_RC (want $_want)"; echo "stdout:"; cat "$W/out"; echo "stderr:"; cat "$W/err"; } | _vm_ctx
  fi
}

cat > "$W/v1.yaml" <<'EOF'
services:
  - name: web
    listen: "10.0.0.1:80"
    protocol: tcp
    scheduler: wrr
    forward: masq
    backends:
      - address: "192.168.1.10:8080"
        weight: 3
      - address: "192.168.1.11:8080"
        weight: 1
  - name: dns
    listen: "10.0.0.3:53"
    protocol: udp
    scheduler: rr
    backends:
      - address: "192.168.4.10:53"
  - name: v6
    listen: "[2001:db8::10]:443"
    scheduler: sh
    persistence: 300
    forward: route
    backends:
      - address: "[2001:db8:1::10]:443"
        weight: 2
EOF
V1="
-A -t 10.0.0.1:80 -s wrr
-a -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.11:8080 -m -w 1
-A -u 10.0.0.3:53 -s rr
-a -u 10.0.0.3:53 -r 192.168.4.10:53 -m -w 1
-A -t [2001:db8::10]:443 -s sh -p 300
-a -t [2001:db8::10]:443 -r [2001:db8:1::10]:443 -g -w 2
"

step "a foreign service (made by ipvsadm) exists before ezlb runs"
ipvsadm -A -t 10.9.9.9:80 -s rr
ipvsadm -a -t 10.9.9.9:80 -r 10.9.9.10:80 -m
FOREIGN="
-A -t 10.9.9.9:80 -s rr
-a -t 10.9.9.9:80 -r 10.9.9.10:80 -m -w 1
"

step "plan / dry-run change nothing"
assert_ez "plan exits 2 with --detailed-exitcode (changes pending)" 2 ipvs plan -c "$W/v1.yaml" $ST --detailed-exitcode
assert_contains "plan lists the new service" "$(cat "$W/out")" "+ service tcp 10.0.0.1:80"
assert_ez "apply --dry-run" 0 ipvs apply --dry-run -c "$W/v1.yaml" $ST
check_ipvsadm_equals "kernel unchanged after plan and dry-run" "$FOREIGN"

step "apply"
assert_ez "apply -o json" 0 ipvs apply -c "$W/v1.yaml" $ST -o json
assert_contains "json says changed" "$(cat "$W/out")" '"changed":true'
check_ipvsadm_equals "kernel = config + foreign service" "$V1$FOREIGN"
assert_ez "show --format ipvsadm" 0 ipvs show --format ipvsadm $ST
assert_eq "show --format ipvsadm prints the lines ipvsadm -S -n prints" "$(ipvs_dump)" "$(LC_ALL=C sort "$W/out")"
assert_eq "show --format ipvsadm is ipvsadm -S -n, line for line and in order" "$(ipvsadm -S -n)" "$(cat "$W/out")"
assert_ez "show --managed" 0 ipvs show --managed --format ipvsadm $ST
assert_not_contains "--managed hides the foreign service" "$(cat "$W/out")" "10.9.9.9"

step "re-apply is a no-op"
assert_ez "re-apply exits 0 with --detailed-exitcode (nothing to do)" 0 ipvs apply -c "$W/v1.yaml" $ST --detailed-exitcode -o json
assert_contains "json says unchanged" "$(cat "$W/out")" '"changed":false'
check_ipvsadm_equals "kernel unchanged by re-apply" "$V1$FOREIGN"

step "hand changes are repaired"
ipvsadm -D -u 10.0.0.3:53
ipvsadm -e -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 7
ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.99:8080 -m -w 1
assert_ez "apply repairs (exit 2: changed)" 2 ipvs apply -c "$W/v1.yaml" $ST --detailed-exitcode
check_ipvsadm_equals "kernel back to config" "$V1$FOREIGN"

step "config edits are applied in place"
sed -e 's/weight: 3/weight: 5/' -e 's/scheduler: wrr/scheduler: wlc/' -e '/name: dns/,/192.168.4.10:53/d' "$W/v1.yaml" > "$W/v2.yaml"
assert_ez "apply v2" 0 ipvs apply -c "$W/v2.yaml" $ST
assert_contains "output shows the weight change" "$(cat "$W/out")" "weight 3 -> 5"
check_ipvsadm_equals "kernel = v2 + foreign" "
-A -t 10.0.0.1:80 -s wlc
-a -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 5
-a -t 10.0.0.1:80 -r 192.168.1.11:8080 -m -w 1
-A -t [2001:db8::10]:443 -s sh -p 300
-a -t [2001:db8::10]:443 -r [2001:db8:1::10]:443 -g -w 2
$FOREIGN"

step "a configured key held by a foreign service is not taken without --adopt"
cat > "$W/v3.yaml" <<'EOF'
services:
  - name: clash
    listen: "10.9.9.9:80"
    scheduler: wrr
    backends:
      - address: "10.9.9.11:80"
EOF
assert_ez "apply onto a foreign service fails" 1 ipvs apply -c "$W/v3.yaml" $ST
assert_contains "foreign service untouched" "$(ipvs_dump)" "-a -t 10.9.9.9:80 -r 10.9.9.10:80 -m -w 1"

step "the repository's example config"
if [ -f /examples/ezlb.yaml ]; then
  assert_ez "apply examples/ezlb.yaml" 0 ipvs apply -c /examples/ezlb.yaml --state-dir "$W/ex" --backend kernel
  assert_ez "re-apply examples/ezlb.yaml is a no-op" 0 ipvs apply -c /examples/ezlb.yaml --state-dir "$W/ex" --backend kernel --detailed-exitcode
  assert_ez "cleanup the example" 0 ipvs cleanup --state-dir "$W/ex" --backend kernel
else
  skip "no /examples/ezlb.yaml"
fi

step "cleanup deletes only what ezlb owns"
assert_ez "cleanup" 0 ipvs cleanup $ST
check_ipvsadm_equals "only the foreign service is left" "$FOREIGN"
assert_ez "cleanup again is a no-op" 0 ipvs cleanup $ST --detailed-exitcode
ipvsadm -C

step "a converged table is remembered (ipvs.converged) and every hand change is still seen"
# No health checks (they make every run plan): the apply records the table it made; the
# next run must find the real kernel's dump equal to it (IPv4, IPv6, persistence, fwmark).
# (ipvsadm -e with -g/-i rewrites the real server's port to the service's: the forwarding
# change is made on the v6 service, whose ports are equal.)
cat > "$W/conv.yaml" <<'CONF'
services:
  - name: web
    listen: "10.0.1.1:80"
    scheduler: wrr
    health_check: {enabled: false}
    backends:
      - {address: "192.168.1.10:8080", weight: 3}
      - {address: "192.168.1.11:8080", weight: 1, upper_threshold: 100, lower_threshold: 10}
  - name: v6
    listen: "[2001:db8::20]:443"
    scheduler: sh
    persistence: 300
    forward: route
    health_check: {enabled: false}
    backends:
      - {address: "[2001:db8:1::10]:443", weight: 2}
  - name: marked
    fwmark: 7
    family: ipv4
    scheduler: rr
    backends:
      - {address: "192.168.1.20", weight: 1}
CONF
CS="--state-dir $W/conv --backend kernel"
HIT="converged: ipvs.converged matches the kernel and the inputs"
assert_ez "apply" 0 ipvs apply -c "$W/conv.yaml" $CS
assert_ez "re-apply" 0 ipvs apply -c "$W/conv.yaml" $CS -vv -o json
assert_contains "the first re-apply finds the kernel equal to the table the apply recorded" "$(cat "$W/err")" "$HIT"
assert_contains "and reports no change" "$(cat "$W/out")" '"changed":false'
for change in "ipvsadm -e -t 10.0.1.1:80 -r 192.168.1.10:8080 -m -w 9" \
              "ipvsadm -e -t 10.0.1.1:80 -r 192.168.1.11:8080 -m -w 1 -x 50 -y 10" \
              "ipvsadm -e -t [2001:db8::20]:443 -r [2001:db8:1::10]:443 -m -w 2" \
              "ipvsadm -d -t [2001:db8::20]:443 -r [2001:db8:1::10]:443" \
              "ipvsadm -E -t [2001:db8::20]:443 -s sh -p 60" \
              "ipvsadm -D -f 7"; do
  $change
  assert_ez "after '$change': repaired" 2 ipvs apply -c "$W/conv.yaml" $CS -vv --detailed-exitcode
  assert_not_contains "after '$change': not taken for the remembered table" "$(cat "$W/err")" "$HIT"
  assert_ez "after '$change': converged again" 0 ipvs apply -c "$W/conv.yaml" $CS -vv --detailed-exitcode
  assert_contains "after '$change': the repaired table is remembered" "$(cat "$W/err")" "$HIT"
done
assert_ez "cleanup" 0 ipvs cleanup $CS
