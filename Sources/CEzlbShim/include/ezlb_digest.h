#ifndef EZLB_DIGEST_H
#define EZLB_DIGEST_H
/* The one digest of kernel state (digest.c): what the converged fast paths compare — an
 * x_tables table's scope (xtdigest.c), the xfrm objects (xfrmdump.c), an IPVS table and the
 * fakes' models (Swift, Sources/Kernel/StateDigest.swift). Two parts:
 *  - an ordered stream of bytes (an x_tables chain's rules, in order);
 *  - a multiset of elements (IPVS services, xfrm policies and SAs): each element hashed on
 *    its own, the hashes summed lane by lane (mod 2^64), so the order does not count.
 * The mixing: four 64-bit lanes, each word of a 32-byte stripe mixed into its own lane by a
 * bijective step (xor, multiply by an odd constant, xor-shift, twice). Not cryptographic:
 * StateDigest finishes the state with SHA-256, so a stored digest reveals nothing of the
 * bytes (an SA's key). */
#include <stddef.h>
#include <stdint.h>

struct ezlb_digest {
    uint64_t h[4];      /* the stream's lanes */
    uint64_t sum[4];    /* the multiset: sum of the elements' lanes */
    uint64_t hashed;    /* stream bytes hashed in whole stripes */
    uint64_t elements;
    size_t n;           /* stream bytes waiting in buf */
    uint8_t buf[4096];
};

/* One element being hashed (fed in pieces). */
struct ezlb_digest_element {
    uint64_t h[4];
    uint64_t total;
    size_t n;
    uint8_t buf[32];
};

enum { EZLB_DIGEST_STATE_LEN = 80 };

void ezlb_digest_init(struct ezlb_digest *d);
/* Appends bytes to the ordered stream. */
void ezlb_digest_update(struct ezlb_digest *d, const void *p, size_t n);
/* Adds one element, given whole, to the multiset. */
void ezlb_digest_element(struct ezlb_digest *d, const void *p, size_t n);
void ezlb_digest_element_begin(struct ezlb_digest_element *e);
void ezlb_digest_element_feed(struct ezlb_digest_element *e, const void *p, size_t n);
/* Adds the element fed so far to `d`'s multiset. */
void ezlb_digest_element_end(struct ezlb_digest *d, struct ezlb_digest_element *e);
/* The state to finish: the stream's final lanes, the multiset's sums, the element count
 * and the stream length (little-endian words). `d` is spent afterwards. */
void ezlb_digest_final(struct ezlb_digest *d, uint8_t out[EZLB_DIGEST_STATE_LEN]);

#endif
