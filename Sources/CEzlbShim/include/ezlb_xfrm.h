#ifndef EZLB_XFRM_H
#define EZLB_XFRM_H
/* The xfrm database read raw (xfrmdump.c): one NETLINK_XFRM socket, an
 * XFRM_MSG_GETPOLICY and an XFRM_MSG_GETSA dump (NLM_F_DUMP), the reply
 * messages kept as the kernel sent them; and a digest of such a dump that
 * leaves out what traffic and time change, for `xfrm sync`'s converged fast
 * path (Sources/Kernel/Xfrm/XfrmDumpDigest.swift). */
#include <stddef.h>
#include <stdint.h>
#include "ezlb_digest.h"

/* A growable byte buffer. Its bytes may hold SA keys: ezlb_xfrm_buf_free and
 * every reallocation scrub them before the memory is released. */
struct ezlb_xfrm_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void ezlb_xfrm_buf_free(struct ezlb_xfrm_buf *b);

/* Dumps every policy, then every SA, through `fd` (a NETLINK_XFRM socket),
 * appending each XFRM_MSG_NEWPOLICY / XFRM_MSG_NEWSA reply message (its
 * nlmsghdr included, padded to NLMSG_ALIGNTO) to `out`: policies first.
 * `seq` numbers the first request (the second uses seq + 1). 0, or a negative
 * errno (the kernel's refusal, a socket error, -EMSGSIZE for a reply longer
 * than the receive buffer, -EPROTO for a malformed reply). */
int ezlb_xfrm_dump(int fd, uint32_t seq, struct ezlb_xfrm_buf *out);

/* The constants Swift needs to walk a dump. */
enum {
    EZLB_XFRM_MSG_NEWPOLICY = 19,
    EZLB_XFRM_MSG_NEWSA = 16,
};

/* Adds every policy and SA of a dump made by ezlb_xfrm_dump to `d` (ezlb_digest.h), each as
 * one element of the multiset (the dump order does not count). An element's bytes: the
 * message type (u16), then the fixed struct (xfrm_userpolicy_info / xfrm_usersa_info) without
 * its current lifetime (curlft: bytes, packets, add and use time), for an SA its statistics
 * (stats), for a policy its index (kernel-assigned, new when a policy is re-added; nothing
 * ezlb plans on: without it, a policy deleted and added again as it was is the same digest,
 * and the order of insertion shows in nothing), then every attribute in the kernel's order as
 * type (u16), length (u16) and payload, except XFRMA_LASTUSED, XFRMA_REPLAY_VAL,
 * XFRMA_LTIME_VAL and XFRMA_PAD (alignment padding, present or not depending on LASTUSED); of
 * XFRMA_REPLAY_ESN_VAL only bmp_len and replay_window (the sequence numbers and the bitmap
 * move with traffic). 0, or -EPROTO for a malformed message. */
int ezlb_xfrm_digest(const uint8_t *data, size_t len, struct ezlb_digest *d);

/* ezlb_xfrm_dump and ezlb_xfrm_digest in one pass: each reply message is digested as it is
 * received, nothing kept (the converged fast path). The same result, or the same errors. */
int ezlb_xfrm_dump_digest(int fd, uint32_t seq, struct ezlb_digest *d);

#endif
