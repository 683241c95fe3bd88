# Tests/vm/lib.sh — helpers for guest scenarios run by scripts/kernel-vm.
# POSIX sh (busybox ash). Source it first:   . /tests/lib.sh
#
# Scenarios run as root in the guest under `sh -e`. Assertions print one line
#   ok   - <what>
#   FAIL - <what>   (followed by indented context: expected/actual/output)
# and keep going; at exit a summary line is printed and the scenario exits
# non-zero if any assertion failed (or if `sh -e` aborted it). Use `die` for
# unrecoverable setup errors. Network namespaces created with ns_add (and
# background processes started with bg_start) are removed at exit.

VM_OK=0
VM_FAILED=0
VM_NETNS=""
VM_PIDS=""
VM_T0=$(cut -d' ' -f1 /proc/uptime)

_vm_ctx() { sed 's/^/      | /'; }

ok() { VM_OK=$((VM_OK + 1)); echo "ok   - $*"; }
fail() { VM_FAILED=$((VM_FAILED + 1)); echo "FAIL - $*"; }
skip() { echo "skip - $*"; }
die() { echo "FATAL - $*"; exit 1; }
# step TEXT: section header with the guest time since the scenario started.
step() {
  echo "## [$(awk -v a="$VM_T0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN{printf "%6.1fs", b-a}')] $*"
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else
    fail "$1"; { echo "expected: $2"; echo "actual:   $3"; } | _vm_ctx
  fi
}

# assert_ok WHAT CMD...   — CMD must exit 0 (its output is shown on failure)
assert_ok() {
  _what=$1; shift
  if _out=$("$@" 2>&1); then ok "$_what"; else
    _rc=$?; fail "$_what"; { echo "command: $* (rc=$_rc)"; printf '%s\n' "$_out"; } | _vm_ctx
  fi
}

# assert_fails WHAT CMD...   — CMD must exit non-zero
assert_fails() {
  _what=$1; shift
  if _out=$("$@" 2>&1); then
    fail "$_what"; { echo "command unexpectedly succeeded: $*"; printf '%s\n' "$_out"; } | _vm_ctx
  else ok "$_what"; fi
}

# assert_contains WHAT HAYSTACK NEEDLE   (fixed string)
assert_contains() {
  case "$2" in
    *"$3"*) ok "$1" ;;
    *) fail "$1"; { echo "missing: $3"; echo "in:"; printf '%s\n' "$2"; } | _vm_ctx ;;
  esac
}

# assert_not_contains WHAT HAYSTACK NEEDLE
assert_not_contains() {
  case "$2" in
    *"$3"*) fail "$1"; { echo "unexpected: $3"; echo "in:"; printf '%s\n' "$2"; } | _vm_ctx ;;
    *) ok "$1" ;;
  esac
}

# assert_between WHAT LOW HIGH VALUE   (integers, inclusive)
assert_between() {
  if [ "$4" -ge "$2" ] 2>/dev/null && [ "$4" -le "$3" ]; then ok "$1 ($4 in [$2,$3])"; else
    fail "$1"; echo "expected $2 <= value <= $3, got: $4" | _vm_ctx
  fi
}

# ipvs_dump: `ipvsadm -S -n`, order-independent (sorted), trailing blanks removed.
ipvs_dump() { ipvsadm -S -n | sed 's/[[:space:]]*$//' | grep -v '^$' | LC_ALL=C sort; }

# check_ipvsadm_equals WHAT EXPECTED
#   EXPECTED: the lines `ipvsadm -S -n` must print, in any order (multi-line string).
check_ipvsadm_equals() {
  _exp=$(printf '%s\n' "$2" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$' | LC_ALL=C sort)
  _act=$(ipvs_dump)
  if [ "$_exp" = "$_act" ]; then ok "$1"; else
    fail "$1"
    printf '%s\n' "$_exp" > /tmp/.vm_exp; printf '%s\n' "$_act" > /tmp/.vm_act
    { echo "ipvsadm -S -n differs (- expected, + actual):"; diff -u /tmp/.vm_exp /tmp/.vm_act | tail -n +3; } | _vm_ctx
  fi
}

# ---- network namespaces ----------------------------------------------------
# ns_add NAME: create a netns with lo up; removed at exit.
ns_add() {
  ip netns add "$1" || die "ip netns add $1"
  VM_NETNS="$VM_NETNS $1"
  ip -n "$1" link set lo up
}
# ns NAME CMD...: run CMD inside netns NAME.
ns() { _n=$1; shift; ip netns exec "$_n" "$@"; }
# veth_to_ns NS HOST_IF NS_IF NS_ADDR/PREFIX: veth pair, one end moved into NS and configured.
veth_to_ns() {
  ip link add "$2" type veth peer name "$3" netns "$1" || die "veth $2<->$1:$3"
  ip link set "$2" up
  ip -n "$1" addr add "$4" dev "$3"
  ip -n "$1" link set "$3" up
}
# director_topology VIP B1 B2: the IPVS director layout of the packet tests:
#   netns client (10.0.0.2/24) --veth c-dir (VIP/24)-- guest root netns --bridge br-be 192.168.1.1/24-- netns b1, b2
# B1/B2 are IP:PORT; each backend netns gets the address of its B and a default route via br-be.
director_topology() {
  sysctl -qw net.ipv4.ip_forward=1
  ns_add client
  veth_to_ns client c-dir eth0 10.0.0.2/24
  ip addr add "$1/24" dev c-dir
  ip link add br-be type bridge
  ip link set br-be up
  ip addr add 192.168.1.1/24 dev br-be
  _b=b1
  for _rs in "$2" "$3"; do
    ns_add "$_b"
    veth_to_ns "$_b" "$_b-dir" eth0 "${_rs%:*}/24"
    ip link set "$_b-dir" master br-be
    ip -n "$_b" route add default via 192.168.1.1
    _b=b2
  done
}
# syn_source IFACE URL [NS]: the source address of the SYN to port 8080 seen on IFACE during one
# `wget URL` from netns NS (default client; the reply's body goes to /tmp/reply.body, ERR when none).
syn_source() {
  tcpdump -i "$1" -n -l -c 1 'tcp dst port 8080 and tcp[tcpflags] & tcp-syn != 0' > /tmp/td.out 2> /tmp/td.err &
  _td=$!
  wait_until 10 grep -q 'listening on' /tmp/td.err || die "tcpdump did not start: $(cat /tmp/td.err)"
  timeout 8 ip netns exec "${3:-client}" wget -q -O - "$2" > /tmp/reply.body 2>/dev/null || echo ERR > /tmp/reply.body
  wait_until 5 sh -c '! kill -0 '"$_td"' 2>/dev/null' || kill "$_td" 2>/dev/null
  wait "$_td" 2>/dev/null || true
  awk '{ for (i = 1; i <= NF; i++) if ($i == "IP") { split($(i+1), a, "."); print a[1]"."a[2]"."a[3]"."a[4]; exit } }' /tmp/td.out
}
# fullnat_topology VIP B1: the FullNAT scenarios' layout:
#   netns client (10.0.0.2/24) --veth c-dir (VIP/24)-- guest root netns --veth b1-dir (192.168.1.1/24
#   and 192.168.1.3/24)-- netns b1 (B1/24, an httpd on 8080 answering "b1", no route back to the client).
fullnat_topology() {
  sysctl -qw net.ipv4.ip_forward=1
  ns_add client
  veth_to_ns client c-dir eth0 10.0.0.2/24
  ip addr add "$1/24" dev c-dir
  ns_add b1
  veth_to_ns b1 b1-dir eth0 "$2/24"
  ip addr add 192.168.1.1/24 dev b1-dir
  ip addr add 192.168.1.3/24 dev b1-dir
  mkdir -p /tmp/www/b1 && echo b1 > /tmp/www/b1/index.html
  bg_start ip netns exec b1 httpd -f -p 8080 -h /tmp/www/b1
  wait_until 10 ip netns exec b1 wget -q -O /dev/null "http://$2:8080/" || die "backend did not come up"
}
# bg_start CMD...: start a background process, killed at exit. Sets BG_PID.
bg_start() { "$@" & BG_PID=$!; VM_PIDS="$VM_PIDS $BG_PID"; }
# wait_until SECS CMD...: poll CMD (every 0.1s) until it succeeds; fails after SECS.
wait_until() {
  _deadline=$(( $(cut -d. -f1 /proc/uptime) + $1 )); shift
  while ! "$@" >/dev/null 2>&1; do
    [ "$(cut -d. -f1 /proc/uptime)" -ge "$_deadline" ] && return 1
    sleep 0.1
  done
}

# vm_teardown: kill bg_start processes, delete ns_add namespaces (safe under `sh -e`).
vm_teardown() {
  for _p in $VM_PIDS; do kill "$_p" 2>/dev/null || true; done
  for _p in $VM_PIDS; do wait "$_p" 2>/dev/null || true; done
  for _n in $VM_NETNS; do ip netns del "$_n" 2>/dev/null || true; done
  VM_PIDS=""; VM_NETNS=""
}

_vm_exit() {
  _rc=$?
  set +e
  vm_teardown
  [ "$_rc" -ne 0 ] && [ "$VM_FAILED" -eq 0 ] && echo "FAIL - scenario aborted (exit status $_rc; see the last command above)"
  echo "# $VM_OK ok, $VM_FAILED failed"
  if [ "$VM_FAILED" -ne 0 ] && [ "$_rc" -eq 0 ]; then _rc=1; fi
  exit "$_rc"
}
trap _vm_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
