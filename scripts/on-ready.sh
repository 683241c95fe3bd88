#!/bin/bash
# ToReady (process start): log, and remove a VIP left over from before a crash or reboot of this
# node while it was Master — it is not Master now, and a VIP on two nodes is the failure to avoid.
set -euo pipefail
# shellcheck source=scripts/vip-lib.sh
. "$(dirname "$(readlink -f "$0")")/vip-lib.sh"
vip_log "node ${NODE_ID:-?} (${RAFT_ADDR:-?}) started"
vip_load
vip_log "VIP ${VIPS[*]} on $INTERFACE (from $VIP_CONF)"
vip_remove_all
