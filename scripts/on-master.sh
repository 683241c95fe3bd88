#!/bin/bash
# ToMaster: bind the VIP(s) of vip.conf and announce them (gratuitous ARP / unsolicited NA).
# Idempotent (ip addr replace). Exits non-zero when an address cannot be bound, so on_failure: abort
# hands leadership to another node. Announcement problems are warnings only.
set -euo pipefail
# shellcheck source=scripts/vip-lib.sh
. "$(dirname "$(readlink -f "$0")")/vip-lib.sh"
vip_load

vip_log "node ${NODE_ID:-?} term ${RAFT_TERM:-?}: binding ${VIPS[*]} on $INTERFACE"
ip link show dev "$INTERFACE" >/dev/null 2>&1 || vip_die "interface $INTERFACE does not exist"
for vip in "${VIPS[@]}"; do
  if [ "$(vip_family "$vip")" = -6 ]; then
    # nodad: the address is usable at once (the previous Master released it); DAD would delay it ~1 s.
    ip -6 addr replace "$vip" dev "$INTERFACE" nodad || vip_die "cannot bind $vip on $INTERFACE"
  else
    ip -4 addr replace "$vip" dev "$INTERFACE" || vip_die "cannot bind $vip on $INTERFACE"
  fi
  vip_log "bound $vip on $INTERFACE"
done

# Announce: neighbours must stop sending the VIP's traffic to the old Master's MAC.
# iputils arping lingers ~1 s after each packet, so the announcements run in the background: the hook
# (and with it ToMaster) completes as soon as the address is bound; the first ARP leaves at once.
v4=() v6=()
for vip in "${VIPS[@]}"; do
  if [ "$(vip_family "$vip")" = -6 ]; then v6+=("${vip%/*}"); else v4+=("${vip%/*}"); fi
done

if [ "${#v4[@]}" -gt 0 ] && { [ "$ARP_COUNT" -gt 0 ] || [ "$GARP_REFRESH" -gt 0 ]; }; then
  if ! command -v arping >/dev/null 2>&1; then
    vip_warn "arping not installed (apt-get install iputils-arping): no gratuitous ARP for ${v4[*]}"
  elif ! arping -V 2>&1 | grep -q iputils; then
    vip_warn "arping is not the iputils one (apt-get install iputils-arping): no gratuitous ARP for ${v4[*]}"
  else
    vip_stop_announcer
    (
      # Stopped by vip_remove_all (ToSlave/ToDestroy/ToReady): end at once, with the arpings in flight.
      # shellcheck disable=SC2046
      trap 'kill $(jobs -p) 2>/dev/null; exit 0' TERM
      for ((i = 1; i <= ARP_COUNT; i++)); do
        for ip in "${v4[@]}"; do
          # Only while the VIP is still here: it may have moved on since.
          vip_present "$ip" || continue
          # -U: unsolicited (gratuitous) ARP, source and target = the VIP.
          arping -q -U -c 1 -I "$INTERFACE" -s "$ip" "$ip" &
        done
        wait
        if [ "$i" -lt "$ARP_COUNT" ]; then
          sleep "$(printf '%d.%03d' $((ARP_DELAY_MS / 1000)) $((ARP_DELAY_MS % 1000)))" &
          wait $!
        fi
      done
      # GARP_REFRESH (keepalived's garp_master_refresh): one more round every N seconds while
      # this node is Master, so switches and neighbours that aged the entry out relearn it.
      while [ "$GARP_REFRESH" -gt 0 ]; do
        sleep "$GARP_REFRESH" &
        wait $!
        here=0
        for ip in "${v4[@]}"; do
          vip_present "$ip" || continue
          here=1
          arping -q -U -c 1 -I "$INTERFACE" -s "$ip" "$ip" &
        done
        wait
        [ "$here" = 1 ] || break   # the VIP left without a ToSlave (removed by hand): stop
      done
    ) </dev/null >/dev/null 2>&1 &
    announcer=$!
    pidfile="$(vip_garp_pidfile)"
    if mkdir -p "${pidfile%/*}" && printf '%s %s\n' "$announcer" "$(vip_proc_start "$announcer" || true)" >"$pidfile"; then
      :
    else
      vip_warn "cannot record the announcer in $pidfile: a ToSlave will not stop it early"
    fi
    vip_log "gratuitous ARP for ${v4[*]} on $INTERFACE (x$ARP_COUNT$([ "$GARP_REFRESH" -gt 0 ] && echo ", then every ${GARP_REFRESH}s while Master"), in the background, pid $announcer)"
  fi
fi

for ip in "${v6[@]}"; do
  if command -v ndsend >/dev/null 2>&1; then
    ndsend "$ip" "$INTERFACE" >/dev/null 2>&1 || vip_warn "ndsend failed for $ip"
  else
    # The kernel advertises addresses itself when net.ipv6.conf.<if>.ndisc_notify=1.
    vip_log "no ndsend: unsolicited NA for $ip left to the kernel (net.ipv6.conf.$INTERFACE.ndisc_notify=1)"
  fi
done
vip_log "VIP bound"
