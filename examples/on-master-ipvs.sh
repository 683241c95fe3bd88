#!/bin/bash
# ToMaster for a load-balancer pair (examples/raft-ipvs.yaml): make the kernel's IPVS table match
# ezlb.yaml first, then take the VIP with on-master.sh — traffic reaching the VIP finds its services.
# A failed apply exits non-zero, so on_failure: abort hands leadership to a node that can serve.
set -euo pipefail
EZLB="${EZLB:-ezlb}"
EZLB_CONFIG="${EZLB_CONFIG:-/etc/ezlb/ezlb.yaml}"
# on-master.sh: beside this script (resolved), unless HOOKS_DIR says otherwise.
HOOKS_DIR="${HOOKS_DIR:-$(dirname "$(readlink -f "$0")")}"

echo "[${EVENT_TYPE:-ToMaster}] ezlb ipvs apply -c $EZLB_CONFIG"
"$EZLB" ipvs apply -c "$EZLB_CONFIG"
exec "$HOOKS_DIR/on-master.sh"
