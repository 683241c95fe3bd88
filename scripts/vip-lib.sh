# shellcheck shell=bash
# Shared by on-ready.sh, on-master.sh, on-slave.sh and on-destroy.sh (install them side by side).
# vip.conf is read as KEY=value lines, never executed (`source` would run whatever the file holds).

vip_log() { printf '[%s] %s\n' "${EVENT_TYPE:-hook}" "$*"; }
vip_warn() { printf '[%s] WARNING: %s\n' "${EVENT_TYPE:-hook}" "$*" >&2; }
vip_die() { printf '[%s] ERROR: %s\n' "${EVENT_TYPE:-hook}" "$*" >&2; exit 1; }

# vip_load: sets VIP_ADDRESS (one or more addresses, space separated, prefix optional), INTERFACE,
# ARP_COUNT, ARP_DELAY_MS, GARP_REFRESH from $VIP_CONF, else /etc/ezlb/vip.conf, else vip-switch's
# /etc/vip-switch/vip.conf (the first that exists); VIPS = the addresses with a prefix.
vip_load() {
  if [ -z "${VIP_CONF:-}" ]; then
    VIP_CONF=/etc/ezlb/vip.conf
    [ -e "$VIP_CONF" ] || [ ! -e /etc/vip-switch/vip.conf ] || VIP_CONF=/etc/vip-switch/vip.conf
  fi
  [ -r "$VIP_CONF" ] || vip_die "VIP config not found: $VIP_CONF (also looked for /etc/vip-switch/vip.conf; set VIP_CONF in the hook's environment)"
  VIP_ADDRESS="" INTERFACE="" ARP_COUNT=3 ARP_DELAY_MS=200 GARP_REFRESH=0
  local line key value n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    line="${line#"${line%%[![:space:]]*}"}"
    case "$line" in '' | '#'*) continue ;; esac
    case "$line" in *=*) ;; *) vip_die "$VIP_CONF:$n: expected KEY=value, got: $line" ;; esac
    key="${line%%=*}" value="${line#*=}"
    value="${value%%[[:space:]]#*}"
    value="${value%"${value##*[![:space:]]}"}"
    case "$value" in \"*\") value="${value#\"}" value="${value%\"}" ;; \'*\') value="${value#\'}" value="${value%\'}" ;; esac
    case "$key" in
      VIP_ADDRESS | INTERFACE | ARP_COUNT | ARP_DELAY_MS | GARP_REFRESH) printf -v "$key" '%s' "$value" ;;
      *) vip_die "$VIP_CONF:$n: unknown key '$key' (VIP_ADDRESS, INTERFACE, ARP_COUNT, ARP_DELAY_MS, GARP_REFRESH)" ;;
    esac
  done <"$VIP_CONF"
  [ -n "$VIP_ADDRESS" ] || vip_die "$VIP_CONF: VIP_ADDRESS is not set"
  [ -n "$INTERFACE" ] || vip_die "$VIP_CONF: INTERFACE is not set"
  case "$ARP_COUNT" in '' | *[!0-9]*) vip_die "$VIP_CONF: ARP_COUNT must be a number, got '$ARP_COUNT'" ;; esac
  case "$ARP_DELAY_MS" in '' | *[!0-9]*) vip_die "$VIP_CONF: ARP_DELAY_MS must be a number, got '$ARP_DELAY_MS'" ;; esac
  case "$GARP_REFRESH" in '' | *[!0-9]*) vip_die "$VIP_CONF: GARP_REFRESH must be a number of seconds, got '$GARP_REFRESH'" ;; esac
  VIPS=()
  local vip
  for vip in $VIP_ADDRESS; do
    case "$vip" in
      */*) ;;
      *:*) vip="$vip/128" ;;
      *) vip="$vip/32" ;;
    esac
    VIPS+=("$vip")
  done
}

# vip_family ADDR/PREFIX -> -4 or -6
vip_family() { case "$1" in *:*) echo -6 ;; *) echo -4 ;; esac; }

# vip_present ADDR/PREFIX: is it on $INTERFACE?
vip_present() {
  local fam
  fam="$(vip_family "$1")"
  [ -n "$(ip "$fam" -o addr show dev "$INTERFACE" to "${1%/*}" 2>/dev/null)" ]
}

# The gratuitous-ARP announcer on-master.sh leaves in the background records "PID STARTTIME" here, so
# the removal path can stop it: a ToSlave must not keep announcing a VIP that moved to another node.
# Named after the VIP config too (vip.conf -> vip.eth0.garp.pid, vip-b.conf -> vip-b.eth0.garp.pid):
# several VIP groups on one interface each stop only their own announcer.
vip_garp_pidfile() {
  local name="${VIP_CONF##*/}"
  printf '%s/%s.%s.garp.pid' "${VIP_RUN_DIR:-/run/ezlb}" "${name%.conf}" "$INTERFACE"
}

# vip_proc_start PID: the process's start time (field 22 of /proc/PID/stat); fails when it is gone.
vip_proc_start() {
  local stat fields
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  read -ra fields <<<"${stat##*) }"
  [ -n "${fields[19]:-}" ] || return 1
  printf '%s\n' "${fields[19]}"
}

# vip_stop_announcer: stop the announcer of an earlier on-master.sh, if it still runs (a reused pid, whose
# start time differs, is left alone).
vip_stop_announcer() {
  local f pid="" start="" cur
  f="$(vip_garp_pidfile)"
  [ -r "$f" ] || return 0
  read -r pid start <"$f" || true
  rm -f "$f"
  case "$pid" in '' | *[!0-9]*) return 0 ;; esac
  cur="$(vip_proc_start "$pid")" || return 0
  [ -n "$start" ] && [ "$cur" = "$start" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  vip_log "stopped the gratuitous ARP announcer (pid $pid)"
}

# vip_remove_all: take every VIP off $INTERFACE; idempotent (absent addresses and interfaces are fine).
# Stops a running gratuitous-ARP announcer first.
vip_remove_all() {
  local vip fam
  vip_stop_announcer
  if ! ip link show dev "$INTERFACE" >/dev/null 2>&1; then
    vip_log "interface $INTERFACE does not exist: no VIP to remove"
    return 0
  fi
  for vip in "${VIPS[@]}"; do
    fam="$(vip_family "$vip")"
    if vip_present "$vip"; then
      ip "$fam" addr del "$vip" dev "$INTERFACE" || vip_die "cannot remove $vip from $INTERFACE"
      vip_log "removed $vip from $INTERFACE"
    else
      vip_log "$vip is not on $INTERFACE"
    fi
  done
}
