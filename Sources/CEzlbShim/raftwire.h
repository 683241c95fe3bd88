/* ezlb's raft transport: libraft's raft_uv_transport with peers that prove the
 * cluster key to each other before libraft sees a byte, and every byte after
 * that authenticated. See raftwire.c and docs/raft.md ("Security"). */
#ifndef EZLB_RAFTWIRE_H
#define EZLB_RAFTWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

/* HMAC-SHA256(key, msg) into out[32] (ezlb passes swift-crypto's). */
typedef void (*ezlb_mac_fn)(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len, uint8_t *out);

/* Like raft_uv_tcp_init: `key` (32 bytes, copied) is the cluster key every
 * peer must prove; `mac` computes the MACs. */
int ezlb_wire_init(struct raft_uv_transport *t, uv_loop_t *loop, const uint8_t key[32], ezlb_mac_fn mac);
/* Like raft_uv_tcp_close: frees what init allocated (after close's cb). */
void ezlb_wire_free(struct raft_uv_transport *t);
/* Connections refused for a failed handshake or a bad frame MAC, and the last
 * peer refused ("ip:port"). */
uint64_t ezlb_wire_refused(struct raft_uv_transport *t, char *peer, size_t len);

#endif
