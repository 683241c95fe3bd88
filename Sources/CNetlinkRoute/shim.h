#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

/* setns(2) is declared by <sched.h> only under _GNU_SOURCE; declare it here. */
extern int setns(int fd, int nstype);
#define EZLB_CLONE_NEWNET 0x40000000
