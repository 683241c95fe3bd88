#ifndef EZLB_SHIM_H
#define EZLB_SHIM_H
/* Helpers for libnl macros and kernel UAPI constants that Swift cannot import. */
#include <netlink/netlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <linux/ip_vs.h>

#endif
