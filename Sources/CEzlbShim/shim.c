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

void ezlb_tune_malloc(void)
{
    /* Large tables allocate and free megabytes at a time: keep freed memory in
     * the heap for reuse rather than returning it and faulting fresh pages in. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    /* One heap for every thread: what a helper thread allocates (snat sync's report
     * rendering) comes from the same pages as the rest, populated ahead of time by
     * ezlb_prefault_heap, instead of a fresh arena faulted in page by page. */
    mallopt(M_ARENA_MAX, 1);
}

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct prefault_range { uintptr_t start; size_t len; };

static void *prefault_main(void *arg)
{
    struct prefault_range r = *(struct prefault_range *)arg;
    free(arg);
    /* Page tables only: no byte of the range is read or written, so the owning
     * thread's allocator may carve it up meanwhile. Errors (an old kernel) are moot. */
    (void)madvise((void *)r.start, r.len, MADV_POPULATE_WRITE);
    return NULL;
}

int ezlb_prefault_heap(size_t bytes)
{
    /* Below M_MMAP_THRESHOLD (ezlb_tune_malloc), so this comes from the brk heap's top
     * and, freed, stays there (M_TRIM_THRESHOLD): the next allocations take its pages. */
    struct prefault_range *job = malloc(sizeof *job);
    char *p = malloc(bytes);
    if (job == NULL || p == NULL) {
        free(job);
        free(p);
        return -1;
    }
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    job->start = ((uintptr_t)p + page - 1) & ~(page - 1);
    job->len = (bytes - (job->start - (uintptr_t)p)) & ~(page - 1);
    free(p);
    pthread_attr_t a;
    pthread_t t;
    if (pthread_attr_init(&a) != 0) {
        free(job);
        return -1;
    }
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    int rc = pthread_create(&t, &a, prefault_main, job);
    pthread_attr_destroy(&a);
    if (rc != 0)
        free(job);
    return rc == 0 ? 0 : -1;
}
