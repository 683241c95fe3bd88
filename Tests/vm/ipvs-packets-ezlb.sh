# Tests/vm/ipvs-packets-ezlb.sh — ipvs-packets.sh with IPVS configured by
# `ezlb ipvs apply` instead of ipvsadm (same topology, traffic and checks).
IPVS_DRIVER=ezlb
. "${0%/*}/ipvs-packets.sh"
