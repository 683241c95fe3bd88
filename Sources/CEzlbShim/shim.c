#include "ezlb_shim.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

static int set_buf(int fd, int force_opt, int opt, int size)
{
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
        return 0;
    return setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

int ezlb_nl_tune_socket(struct nl_sock *sk, int rcvbuf, int sndbuf, size_t msg_buf, int timeout_sec)
{
    int fd = nl_socket_get_fd(sk);
    int one = 1;
    struct timeval tv = { .tv_sec = timeout_sec, .tv_usec = 0 };

    if (fd < 0)
        return -NLE_BAD_SOCK;
    if (set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf) < 0 ||
        set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf) < 0)
        return -nl_syserr2nlerr(errno);
    /* Optional: older kernels lack it and then echo the request in error acks. */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    if (timeout_sec > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        return -nl_syserr2nlerr(errno);
    nl_socket_disable_msg_peek(sk);
    return nl_socket_set_msg_buf_size(sk, msg_buf);
}

int ezlb_genl_parse(struct nl_msg *msg, struct nlattr **tb, int maxtype)
{
    return genlmsg_parse(nlmsg_hdr(msg), 0, tb, maxtype, NULL);
}

uint32_t ezlb_nlmsg_seq(struct nl_msg *msg)
{
    return nlmsg_hdr(msg)->nlmsg_seq;
}

#include <malloc.h>

static int tunings;

void ezlb_tune_malloc(void)
{
    /* Large tables allocate and free megabytes at a time: keep freed memory in
     * the heap for reuse rather than returning it and faulting fresh pages in. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    tunings++;
}

int ezlb_malloc_tunings(void)
{
    return tunings;
}
