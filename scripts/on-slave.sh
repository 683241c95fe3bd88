#!/bin/bash
# ToSlave: remove the VIP(s) of vip.conf from the interface. Idempotent: an absent address is fine.
set -euo pipefail
# shellcheck source=scripts/vip-lib.sh
. "$(dirname "$(readlink -f "$0")")/vip-lib.sh"
vip_load
vip_log "node ${NODE_ID:-?} term ${RAFT_TERM:-?}, leader ${LEADER_ID:-unknown}: releasing ${VIPS[*]} from $INTERFACE"
vip_remove_all
vip_log "VIP released"
