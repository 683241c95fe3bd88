/* libnftnl and libmnl, for Sources/CEzlbShim/nft.c (the nftables backend). Swift code uses
 * CEzlbShim's ezlb_nft.h, not these headers. */
#include <libmnl/libmnl.h>
#include <libnftnl/table.h>
