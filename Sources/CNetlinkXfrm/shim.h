#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/object.h>
#include <netlink/xfrm/sa.h>
#include <netlink/xfrm/sp.h>
#include <netlink/xfrm/selector.h>
#include <netlink/xfrm/template.h>
#include <netlink/xfrm/lifetime.h>

/* setns(2) is declared by <sched.h> only under _GNU_SOURCE; declare it here. */
extern int setns(int fd, int nstype);
#define EZLB_XFRM_CLONE_NEWNET 0x40000000
