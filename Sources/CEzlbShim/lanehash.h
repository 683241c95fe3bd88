/* The mixing both table digests use (xtdigest.c for x_tables, xfrmdump.c for
 * xfrm): four 64-bit lanes, each word of a 32-byte stripe mixed into its own
 * lane by a bijective step (xor, multiply by an odd constant, xor-shift,
 * twice). Not cryptographic. Internal to CEzlbShim (not in include/). */
#ifndef EZLB_LANEHASH_H
#define EZLB_LANEHASH_H
#include <stdint.h>
#include <string.h>

static inline uint64_t lh_step(uint64_t h, uint64_t w) {
    h ^= w;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 32;
    return h;
}

static inline void lh_init(uint64_t h[4]) {
    h[0] = 0x243F6A8885A308D3ull;
    h[1] = 0x13198A2E03707344ull;
    h[2] = 0xA4093822299F31D0ull;
    h[3] = 0x082EFA98EC4E6C89ull;
}

/* One 32-byte stripe into the four lanes. */
static inline void lh_stripe(uint64_t h[4], const uint8_t *p) {
    uint64_t w[4];
    memcpy(w, p, 32);
    for (int i = 0; i < 4; i++) h[i] = lh_step(h[i], w[i]);
}
#endif
