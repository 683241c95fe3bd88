/* The one digest of kernel state: see ezlb_digest.h. */
#include "ezlb_digest.h"

#include <string.h>

static inline uint64_t step(uint64_t h, uint64_t w) {
    h ^= w;
    h *= 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 32;
    return h;
}

static inline void lanes_init(uint64_t h[4]) {
    h[0] = 0x243F6A8885A308D3ull;
    h[1] = 0x13198A2E03707344ull;
    h[2] = 0xA4093822299F31D0ull;
    h[3] = 0x082EFA98EC4E6C89ull;
}

/* One 32-byte stripe into the four lanes. */
static inline void stripe(uint64_t h[4], const uint8_t *p) {
    uint64_t w[4];
    memcpy(w, p, 32);
    for (int i = 0; i < 4; i++) h[i] = step(h[i], w[i]);
}

/* Every lane made to depend on every other and on the length. */
static void lanes_final(uint64_t h[4], uint64_t total) {
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 4; i++) h[i] = step(h[i], h[(i + 1) & 3] ^ total ^ (uint64_t)(r * 4 + i));
}

void ezlb_digest_init(struct ezlb_digest *d) {
    lanes_init(d->h);
    memset(d->sum, 0, sizeof d->sum);
    d->hashed = 0;
    d->elements = 0;
    d->n = 0;
}

/* Hashes the whole stripes waiting in buf; fewer than 32 bytes stay. */
static void drain(struct ezlb_digest *d) {
    size_t k = d->n & ~(size_t)31;
    for (size_t i = 0; i < k; i += 32) stripe(d->h, d->buf + i);
    d->hashed += k;
    memmove(d->buf, d->buf + k, d->n - k);
    d->n -= k;
}

/* Most pieces are a few bytes: copying them into buf is cheaper than hashing each. */
void ezlb_digest_update(struct ezlb_digest *d, const void *data, size_t len) {
    const uint8_t *p = data;
    if (__builtin_expect(len <= sizeof d->buf - d->n, 1)) {
        memcpy(d->buf + d->n, p, len);
        d->n += len;
        return;
    }
    drain(d);
    if (len > sizeof d->buf - d->n) {
        /* Large: complete the waiting stripe, then hash straight from p. */
        size_t take = (32 - d->n) % 32;
        memcpy(d->buf + d->n, p, take);
        d->n += take;
        p += take;
        len -= take;
        drain(d);
        for (; len >= 32; p += 32, len -= 32, d->hashed += 32) stripe(d->h, p);
    }
    memcpy(d->buf + d->n, p, len);
    d->n += len;
}

void ezlb_digest_element_begin(struct ezlb_digest_element *e) {
    lanes_init(e->h);
    e->total = 0;
    e->n = 0;
}

void ezlb_digest_element_feed(struct ezlb_digest_element *e, const void *data, size_t len) {
    const uint8_t *p = data;
    e->total += len;
    if (e->n) {
        size_t take = 32 - e->n < len ? 32 - e->n : len;
        memcpy(e->buf + e->n, p, take);
        e->n += take;
        p += take;
        len -= take;
        if (e->n < 32) return;
        stripe(e->h, e->buf);
        e->n = 0;
    }
    for (; len >= 32; p += 32, len -= 32) stripe(e->h, p);
    memcpy(e->buf, p, len);
    e->n = len;
}

void ezlb_digest_element_end(struct ezlb_digest *d, struct ezlb_digest_element *e) {
    if (e->n) {
        memset(e->buf + e->n, 0, 32 - e->n);
        stripe(e->h, e->buf);
    }
    lanes_final(e->h, e->total);
    for (int i = 0; i < 4; i++) d->sum[i] += e->h[i];
    d->elements++;
}

void ezlb_digest_element(struct ezlb_digest *d, const void *p, size_t n) {
    struct ezlb_digest_element e;
    ezlb_digest_element_begin(&e);
    ezlb_digest_element_feed(&e, p, n);
    ezlb_digest_element_end(d, &e);
}

void ezlb_digest_final(struct ezlb_digest *d, uint8_t out[EZLB_DIGEST_STATE_LEN]) {
    drain(d);
    uint64_t total = d->hashed + d->n;
    if (d->n) {
        memset(d->buf + d->n, 0, 32 - d->n);
        stripe(d->h, d->buf);
    }
    lanes_final(d->h, total);
    memcpy(out, d->h, 32);
    memcpy(out + 32, d->sum, 32);
    memcpy(out + 64, &d->elements, 8);
    memcpy(out + 72, &total, 8);
}
