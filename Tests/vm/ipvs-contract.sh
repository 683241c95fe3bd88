# Tests/vm/ipvs-contract.sh — the IPVS backend contract (Tests/KernelTests/
# IPVSContractTests.swift) against the real kernel over generic netlink: the
# XCTest suite KernelIPVSContractTests with EZLB_CONTRACT_BACKEND=kernel, which
# also cross-checks with ipvsadm both ways (what ezlb writes `ipvsadm -S -n`
# reads back; what `ipvsadm -R` writes ezlb's dump reads back).
#
#   scripts/kernel-vm ipvs-contract
#   scripts/kernel-vm --env EZLB_IPVS_BENCH=5000 ipvs-contract
#
# With EZLB_IPVS_BENCH=<services> the suite also runs its load benchmark: N
# services x 4 destinations through NetlinkIPVS.apply, dump (sockopt fast path
# and netlink only), delete, and the same table through `ipvsadm -R`; it prints
# one EZLB-IPVS-BENCH line. (The test bundle is a debug build: expect the
# userspace share to be ~4x what a release build shows.)
# vm-requires: xctest
. "${0%/*}/lib.sh"

BUNDLE=/usr/local/bin/ezlbPackageTests.xctest
BENCH=${EZLB_IPVS_BENCH:-}
[ -x "$BUNDLE" ] || die "no test bundle at $BUNDLE (kernel-vm builds it for '# vm-requires: xctest')"

step "start from an empty IPVS table"
ipvsadm -C 2>/dev/null || true
assert_eq "ipvsadm -S -n is empty" "" "$(ipvs_dump)"

step "XCTest KernelTests.KernelIPVSContractTests (EZLB_CONTRACT_BACKEND=kernel)"
if out=$(EZLB_CONTRACT_BACKEND=kernel EZLB_IPVS_BENCH="$BENCH" "$BUNDLE" KernelTests.KernelIPVSContractTests 2>&1); then
  rc=0
else
  rc=$?
fi
if [ "$rc" -eq 0 ]; then
  printf '%s\n' "$out" | grep -E "^Test Case .*(passed|failed|skipped)|EZLB-IPVS-BENCH|Executed" | sed 's/^/    /'
else
  printf '%s\n' "$out" | grep -v "^Test Case .* started at" | sed 's/^/    /'
fi
summary=$(printf '%s\n' "$out" | grep -E "Test Suite 'KernelIPVSContractTests' (passed|failed)" -A1 | tail -n1)
assert_eq "xctest exit status" 0 "$rc"
assert_contains "suite ran with no failure" "$summary" " 0 failures"
# Only the benchmark may be skipped (when BENCH is unset); every contract test must run.
skipped=$(printf '%s\n' "$out" | grep -c "^Test Case .* skipped" || true)
if [ -n "$BENCH" ]; then want_skipped=0; else want_skipped=1; fi
assert_eq "skipped tests (only the benchmark when EZLB_IPVS_BENCH is unset)" "$want_skipped" "$skipped"
executed=$(printf '%s\n' "$summary" | sed -n 's/.*Executed \([0-9]*\) tests.*/\1/p')
assert_between "contract tests executed" 17 1000 "${executed:-0}"

step "the suite leaves the kernel table empty"
assert_eq "ipvsadm -S -n is empty afterwards" "" "$(ipvs_dump)"
