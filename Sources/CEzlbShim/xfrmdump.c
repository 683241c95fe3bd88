/* The xfrm database read raw, and its digest (see ezlb_xfrm.h). */
#include "ezlb_xfrm.h"
#include "ezlb_digest.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

_Static_assert(EZLB_XFRM_MSG_NEWPOLICY == XFRM_MSG_NEWPOLICY, "XFRM_MSG_NEWPOLICY");
_Static_assert(EZLB_XFRM_MSG_NEWSA == XFRM_MSG_NEWSA, "XFRM_MSG_NEWSA");

/* ---- buffer ---- */

void ezlb_xfrm_buf_free(struct ezlb_xfrm_buf *b) {
    if (b->data) {
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Room for `more` bytes; the old block is scrubbed before it is freed (no realloc). */
static int buf_reserve(struct ezlb_xfrm_buf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + more) cap *= 2;
    uint8_t *n = malloc(cap);
    if (!n) return -ENOMEM;
    if (b->len) memcpy(n, b->data, b->len);
    if (b->data) {
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = n;
    b->cap = cap;
    return 0;
}

static int buf_append(struct ezlb_xfrm_buf *b, const void *p, size_t n) {
    int err = buf_reserve(b, n);
    if (err) return err;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

/* ---- dump ---- */

/* Replies are read into this (the kernel caps a dump part at 32 KiB). */
#define RECV_SIZE (64 * 1024)

/* Each reply message of the wanted type goes to `each` (0 to go on, else an error to stop with). */
typedef int (*each_fn)(const struct nlmsghdr *h, size_t room, void *ctx);

static int dump_one(int fd, uint16_t type, uint32_t seq, uint8_t *rbuf, each_fn each, void *ctx) {
    struct nlmsghdr req;
    memset(&req, 0, sizeof(req));
    req.nlmsg_len = NLMSG_LENGTH(0);
    req.nlmsg_type = type;
    req.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nlmsg_seq = seq;
    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof(kernel));
    kernel.nl_family = AF_NETLINK;
    for (;;) {
        ssize_t n = sendto(fd, &req, req.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
        if (n >= 0) break;
        if (errno != EINTR) return -errno;
    }
    uint16_t want = type == XFRM_MSG_GETPOLICY ? XFRM_MSG_NEWPOLICY : XFRM_MSG_NEWSA;
    /* After a failure the rest of the dump is still read (and dropped) up to its DONE:
     * a dump left running on the socket would make the next one on it fail with EBUSY. */
    int failed = 0;
    for (;;) {
        struct sockaddr_nl from;
        struct iovec iov = { rbuf, RECV_SIZE };
        struct msghdr m;
        memset(&m, 0, sizeof(m));
        m.msg_name = &from;
        m.msg_namelen = sizeof(from);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        ssize_t n = recvmsg(fd, &m, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS) { if (!failed) failed = -ENOBUFS; continue; } /* replies lost; DONE still comes */
            return failed ? failed : -errno;
        }
        if (n == 0) return failed ? failed : -EPROTO;
        if (m.msg_flags & MSG_TRUNC) { if (!failed) failed = -EMSGSIZE; continue; }
        if (from.nl_pid != 0) continue; /* not from the kernel */
        int left = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != seq) continue; /* a late reply to something else */
            if (h->nlmsg_type == NLMSG_DONE) {
                if (failed) return failed;
                if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
                    int e;
                    memcpy(&e, NLMSG_DATA(h), sizeof(e));
                    if (e < 0) return e;
                }
                return 0;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                if (failed) return failed;
                if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EPROTO;
                struct nlmsgerr e;
                memcpy(&e, NLMSG_DATA(h), sizeof(e));
                return e.error < 0 ? e.error : -EPROTO;
            }
            if (h->nlmsg_type != want || failed) continue;
            int err = each(h, (size_t)left, ctx);
            if (err) failed = err;
        }
        /* Bytes left that hold no whole message: a truncated one (below 0: the last one unpadded). */
        if (left > 0 && !failed) failed = -EPROTO;
    }
}

/* Keeps a message (padded to NLMSG_ALIGNTO) in the buffer `ctx`. */
static int keep(const struct nlmsghdr *h, size_t room, void *ctx) {
    struct ezlb_xfrm_buf *out = ctx;
    size_t len = NLMSG_ALIGN(h->nlmsg_len);
    size_t have = len > room ? h->nlmsg_len : len; /* the last message of a datagram may be unpadded */
    int err = buf_append(out, h, have);
    if (err) return err;
    if (have != len) {
        static const uint8_t zero[NLMSG_ALIGNTO] = { 0 };
        err = buf_append(out, zero, len - have);
    }
    return err;
}

static int dump_both(int fd, uint32_t seq, each_fn each, void *ctx) {
    uint8_t *rbuf = malloc(RECV_SIZE);
    if (!rbuf) return -ENOMEM;
    int err = dump_one(fd, XFRM_MSG_GETPOLICY, seq, rbuf, each, ctx);
    if (!err) err = dump_one(fd, XFRM_MSG_GETSA, seq + 1, rbuf, each, ctx);
    explicit_bzero(rbuf, RECV_SIZE);
    free(rbuf);
    return err;
}

int ezlb_xfrm_dump(int fd, uint32_t seq, struct ezlb_xfrm_buf *out) {
    return dump_both(fd, seq, keep, out);
}

/* ---- digest ---- */

/* Every policy and SA is one element of the shared digest's multiset (ezlb_digest.h). */
struct sink {
    struct ezlb_digest_element e;
};

static void put(struct sink *s, const void *p, size_t n) { ezlb_digest_element_feed(&s->e, p, n); }

static void put16(struct sink *s, uint16_t v) { put(s, &v, sizeof(v)); }

/* Byte ranges of a fixed struct left out of its canonical bytes, in ascending order. */
struct skip {
    size_t from, to;
};

/* The fixed struct without the `nskips` ranges, then the attributes. */
static int canonical(struct sink *s, const struct nlmsghdr *h, size_t fixed, const struct skip *skips, int nskips) {
    if (h->nlmsg_len < NLMSG_LENGTH(fixed)) return -EPROTO;
    const uint8_t *body = NLMSG_DATA(h);
    put16(s, h->nlmsg_type);
    size_t at = 0;
    for (int i = 0; i < nskips; i++) {
        put(s, body + at, skips[i].from - at);
        at = skips[i].to;
    }
    put(s, body + at, fixed - at);
    size_t off = NLMSG_ALIGN(fixed);
    size_t end = h->nlmsg_len - NLMSG_HDRLEN;
    while (off + NLA_HDRLEN <= end) {
        struct nlattr a;
        memcpy(&a, body + off, sizeof(a));
        if (a.nla_len < NLA_HDRLEN || off + a.nla_len > end) return -EPROTO;
        uint16_t type = a.nla_type & NLA_TYPE_MASK;
        const uint8_t *payload = body + off + NLA_HDRLEN;
        size_t plen = a.nla_len - NLA_HDRLEN;
        switch (type) {
        case XFRMA_LASTUSED:
        case XFRMA_REPLAY_VAL:
        case XFRMA_LTIME_VAL:
        case XFRMA_PAD:
            break;
        case XFRMA_REPLAY_ESN_VAL: {
            struct xfrm_replay_state_esn esn;
            if (plen < sizeof(esn)) return -EPROTO;
            memcpy(&esn, payload, sizeof(esn));
            put16(s, a.nla_type);
            put(s, &esn.bmp_len, sizeof(esn.bmp_len));
            put(s, &esn.replay_window, sizeof(esn.replay_window));
            break;
        }
        default:
            put16(s, a.nla_type);
            put16(s, (uint16_t)plen);
            put(s, payload, plen);
        }
        off += NLA_ALIGN(a.nla_len);
    }
    return 0;
}

/* Adds one NEWPOLICY or NEWSA message (aligned in memory) to the digest. */
static int digest_one(const struct nlmsghdr *h, struct ezlb_digest *d) {
    struct sink s;
    ezlb_digest_element_begin(&s.e);
    int err;
    if (h->nlmsg_type == XFRM_MSG_NEWPOLICY) {
        static const struct skip skips[] = {
            { offsetof(struct xfrm_userpolicy_info, curlft),
              offsetof(struct xfrm_userpolicy_info, curlft) + sizeof(struct xfrm_lifetime_cur) },
            { offsetof(struct xfrm_userpolicy_info, index),
              offsetof(struct xfrm_userpolicy_info, index) + sizeof(((struct xfrm_userpolicy_info *)0)->index) },
        };
        _Static_assert(offsetof(struct xfrm_userpolicy_info, index) > offsetof(struct xfrm_userpolicy_info, curlft), "order");
        err = canonical(&s, h, sizeof(struct xfrm_userpolicy_info), skips, 2);
    } else if (h->nlmsg_type == XFRM_MSG_NEWSA) {
        /* curlft and stats are adjacent: one range. */
        _Static_assert(offsetof(struct xfrm_usersa_info, stats) ==
                       offsetof(struct xfrm_usersa_info, curlft) + sizeof(struct xfrm_lifetime_cur), "curlft, stats");
        static const struct skip skips[] = {
            { offsetof(struct xfrm_usersa_info, curlft), offsetof(struct xfrm_usersa_info, stats) + sizeof(struct xfrm_stats) },
        };
        err = canonical(&s, h, sizeof(struct xfrm_usersa_info), skips, 1);
    } else {
        return -EPROTO;
    }
    if (err) return err;
    ezlb_digest_element_end(d, &s.e);
    return 0;
}

int ezlb_xfrm_digest(const uint8_t *data, size_t len, struct ezlb_digest *d) {
    size_t off = 0;
    while (off + NLMSG_HDRLEN <= len) {
        struct nlmsghdr h0;
        memcpy(&h0, data + off, sizeof(h0));
        if (h0.nlmsg_len < NLMSG_HDRLEN || off + h0.nlmsg_len > len) return -EPROTO;
        /* ezlb_xfrm_dump keeps messages aligned: the header can be used in place. */
        int err = digest_one((const struct nlmsghdr *)(data + off), d);
        if (err) return err;
        off += NLMSG_ALIGN(h0.nlmsg_len);
    }
    return off == len ? 0 : -EPROTO;
}

static int digest_each(const struct nlmsghdr *h, size_t room, void *ctx) {
    (void)room;
    return digest_one(h, ctx);
}

int ezlb_xfrm_dump_digest(int fd, uint32_t seq, struct ezlb_digest *d) {
    return dump_both(fd, seq, digest_each, d);
}
