#!/bin/bash
# ToDestroy (process shutdown): release the VIP(s) so a stopped node never keeps them.
set -euo pipefail
# shellcheck source=scripts/vip-lib.sh
. "$(dirname "$(readlink -f "$0")")/vip-lib.sh"
vip_log "node ${NODE_ID:-?} shutting down"
vip_load
vip_remove_all
vip_log "VIP released"
