#!/usr/bin/env bash
# Tests/cni/podman.sh — ezlb as podman's CNI plugin, against the reference bridge + host-local
# plugins as a baseline (docs/cni.md). Podman 4.3 (Debian 12) with network_backend = "cni" and
# runc runs entirely inside a network namespace this script creates ("host", entered with
# nsenter, not `ip netns exec`, which remounts /sys and hides the cgroups runc needs), with an
# "outside" namespace behind it; storage, runroot, CNI configs and ezlb's state live in a
# temporary directory. Nothing is fetched: the image is a busybox-static rootfs imported locally.
#
# Per plugin set — reference (bridge + host-local, unchanged), ezlb (both types changed to
# "ezlb"), ipam (the reference bridge with ezlb as its IPAM plugin) — on a network podman itself
# writes (`podman network create`; `stateDir` is added where ezlb runs):
#   two containers ping each other and the gateway; both reach the outside namespace, which has
#   no route back to the container subnet (so only MASQUERADE makes the replies come back);
#   `podman restart` keeps the address (ezlb: checked; reference: reported, host-local hands
#   out the next address); `podman rm` + `podman network rm` leave no link, address, rule or
#   state entry behind.
#
#   usage: Tests/cni/podman.sh EZLB_BINARY        (root; podman, runc, containernetworking-plugins,
#                                                  busybox-static)
set -euo pipefail

bin=$(realpath "${1:?usage: $0 EZLB_BINARY}")
[ "$(id -u)" = 0 ] || { echo "podman.sh: needs root" >&2; exit 1; }
for t in podman runc nsenter /usr/lib/cni/bridge /usr/lib/cni/host-local /bin/busybox; do
  command -v "$t" >/dev/null 2>&1 || [ -x "$t" ] || { echo "podman.sh: needs $t (apt-get install podman runc containernetworking-plugins busybox-static)" >&2; exit 1; }
done

T=$(mktemp -d /tmp/ezlb-podman.XXXXXX)
tag=$$
HOST=ezpmh-$tag
OUT=ezpmo-$tag
FAILED=0
OKS=0
ok() { OKS=$((OKS + 1)); echo "ok   - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($3)"; else fail "$1: expected '$2', got '$3'"; fi; }

cni_existed=0
[ -e /var/lib/cni ] && cni_existed=1

export CONTAINERS_CONF=$T/containers.conf
P() { nsenter --net="/run/netns/$HOST" podman --root "$T/root" --runroot "$T/runroot" --tmpdir "$T/tmp" --storage-driver vfs "$@"; }
H() { ip netns exec "$HOST" "$@"; }

cleanup() {
  set +e
  P rm -a -f -t 0 >/dev/null 2>&1
  for n in refnet eznet ipamnet; do P network rm -f "$n" >/dev/null 2>&1; done
  ip netns del "$HOST" 2>/dev/null
  ip netns del "$OUT" 2>/dev/null
  # libcni keeps its cache in /var/lib/cni whatever podman is told: remove this run's entries.
  rm -rf /var/lib/cni/networks/refnet /var/lib/cni/results/refnet-* /var/lib/cni/results/eznet-* /var/lib/cni/results/ipamnet-*
  if [ "$cni_existed" = 0 ]; then rmdir /var/lib/cni/networks /var/lib/cni/results /var/lib/cni 2>/dev/null; fi
  rm -rf "$T"
}
trap cleanup EXIT

t0=$(date +%s)
mkdir -p "$T"/{rootfs/bin,cni-bin,cni.d,root,runroot,tmp,ezstate,hostlocal}
chmod 700 "$T/ezstate"
cp /bin/busybox "$T/rootfs/bin/"
for c in sh ping sleep ip cat; do ln -s busybox "$T/rootfs/bin/$c"; done
ln -s "$bin" "$T/cni-bin/ezlb"   # a runtime finds the plugin by its type in cni_plugin_dirs
cat > "$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=10000:10000", "nproc=4096:4096"]
[network]
network_backend = "cni"
cni_plugin_dirs = ["$T/cni-bin", "/usr/lib/cni"]
network_config_dir = "$T/cni.d"
[engine]
runtime = "runc"
CONF

# host: uplink 10.199.0.1/30 to outside (10.199.0.2), which knows no container subnet.
ip netns add "$HOST"
ip netns add "$OUT"
ip link add "u$tag" netns "$HOST" type veth peer name "o$tag" netns "$OUT"
H ip link set lo up
H ip addr add 10.199.0.1/30 dev "u$tag"
H ip link set "u$tag" up
H ip route add default via 10.199.0.2
H sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$OUT" ip link set lo up
ip netns exec "$OUT" ip addr add 10.199.0.2/30 dev "o$tag"
ip netns exec "$OUT" ip link set "o$tag" up

tar -C "$T/rootfs" -c . | P import - localhost/bb >/dev/null
baseline_links=$(H ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')
# The rules in the host namespace, but for the firewall plugin's shared CNI-FORWARD/CNI-ADMIN
# skeleton, which both plugin sets chain and which it never removes.
rules() {
  H iptables-save 2>/dev/null | grep -E '^-A' | grep -v 'CNI firewall plugin' | sort
  H nft list ruleset 2>/dev/null | grep -cE 'masquerade|10\.(88|89|90|91)\.' || true
}
baseline_rules=$(rules)

ip_of() { P inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }

scenario() {
  local kind=$1 net=$2 subnet=$3 gw=$4
  echo "# $kind: network $net $subnet"
  P network create --subnet "$subnet" "$net" >/dev/null
  local conf="$T/cni.d/$net.conflist"
  if [ "$kind" != reference ]; then
    # ezlb: both types changed; ipam: the reference bridge plugin delegating to ezlb as its IPAM.
    python3 - "$conf" "$T/ezstate" "$kind" <<'PY'
import json, sys
p, state, kind = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(p))
main = c["plugins"][0]
assert main["type"] == "bridge" and main["ipam"]["type"] == "host-local", main
if kind == "ezlb":
    main["type"] = "ezlb"
main["ipam"]["type"] = "ezlb"
main["stateDir"] = state
json.dump(c, open(p, "w"), indent=3)
PY
  else
    # Keep host-local's files out of the machine's /var/lib/cni.
    python3 - "$conf" "$T/hostlocal" <<'PY'
import json, sys
p, d = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["plugins"][0]["ipam"]["dataDir"] = d
json.dump(c, open(p, "w"), indent=3)
PY
  fi
  local s
  s=$(date +%s%N)
  P run -d --name "a-$kind" --network "$net" localhost/bb sleep 100000 >/dev/null
  P run -d --name "b-$kind" --network "$net" localhost/bb sleep 100000 >/dev/null
  echo "   two containers up in $(( ($(date +%s%N) - s) / 1000000 )) ms"
  local a b
  a=$(ip_of "a-$kind" "$net"); b=$(ip_of "b-$kind" "$net")
  check "$kind: container a has an address in $subnet ($a)" test -n "$a"
  check "$kind: a pings b ($b)" P exec "a-$kind" ping -c1 -W2 "$b"
  check "$kind: b pings a" P exec "b-$kind" ping -c1 -W2 "$a"
  check "$kind: a pings the gateway $gw" P exec "a-$kind" ping -c1 -W2 "$gw"
  check "$kind: a reaches the outside namespace (10.199.0.2; replies only through MASQUERADE)" P exec "a-$kind" ping -c1 -W2 10.199.0.2
  check "$kind: the network's rules are in place while it is used" test "$(rules)" != "$baseline_rules"
  if [ "$kind" != reference ]; then
    eq "$kind: ezlb's ipam.json holds both containers' addresses" "2 allocations in 1 subnets" \
      "$(H "$bin" ipam list --state-dir "$T/ezstate" | tail -1)"
  fi
  check "$kind: the outside namespace has no route to $subnet" sh -c "! ip netns exec $OUT ip route get ${a} >/dev/null 2>&1 || ! ip netns exec $OUT ping -c1 -W1 $a >/dev/null 2>&1"
  P restart -t 0 "a-$kind" >/dev/null
  local a2
  a2=$(ip_of "a-$kind" "$net")
  if [ "$kind" != reference ]; then
    eq "$kind: podman restart keeps a's address" "$a" "$a2"
  else
    echo "   $kind: podman restart: a had $a, has $a2 (host-local continues after the last address it handed out)"
  fi
  check "$kind: a pings b after the restart" P exec "a-$kind" ping -c1 -W2 "$b"
  P rm -f -t 0 "a-$kind" "b-$kind" >/dev/null
  P network rm "$net" >/dev/null
  eq "$kind: no link left in the host namespace" "$baseline_links" "$(H ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')"
  if [ "$kind" != reference ]; then
    eq "$kind: no firewall rule left" "$baseline_rules" "$(rules)"
    eq "$kind: no address left in ipam.json" "0 allocations in 0 subnets" "$(H "$bin" ipam list --state-dir "$T/ezstate" | tail -1)"
    eq "$kind: no bridge left in bridges.json" "0 bridges, 0 connections" "$(H "$bin" bridge list --state-dir "$T/ezstate" | tail -1)"
  else
    # The firewall plugin leaves its shared CNI-FORWARD/CNI-ADMIN skeleton; per-container rules must be gone.
    eq "$kind: no rule left" "$baseline_rules" "$(rules)"
    local left=""
    for f in "$T/hostlocal/$net"/10.*; do [ -e "$f" ] && left="$left ${f##*/}"; done
    eq "$kind: no address left in host-local's files" "" "$left"
  fi
}

scenario reference refnet 10.89.0.0/24 10.89.0.1
scenario ezlb eznet 10.90.0.0/24 10.90.0.1
scenario ipam ipamnet 10.91.0.0/24 10.91.0.1
echo "# podman.sh: $OKS ok, $FAILED failed in $(( $(date +%s) - t0 )) s"
[ "$FAILED" = 0 ]
