#ifndef EZLB_RAFT_H
#define EZLB_RAFT_H
/* One libraft 0.15 server driven by one libuv loop, for Swift.
 *
 * The node owns the loop, the TCP transport, the on-disk I/O, the raft
 * instance, a poll timer (libraft 0.15 has no leadership callback), the
 * SIGTERM/SIGINT/SIGHUP watchers, one uv_async for requests from other
 * threads and the control listeners (unix socket, optional TCP).
 * Every function except ezlb_raft_wakeup must be called on the loop thread
 * (from a callback, or before ezlb_raft_run). */
#include <stddef.h>
#include <stdint.h>

struct ezlb_raft_node;

/* What failed: the raft_ or uv_ call, its code and message. */
struct ezlb_raft_error {
    char call[48];
    int code;        /* RAFT_* or negative UV_* */
    char message[320];
};

struct ezlb_raft_callbacks {
    void *ctx;
    /* Poll timer tick (every poll_ms). */
    void (*tick)(void *ctx);
    /* FSM: a committed command entry; return 0 (a non-zero return is a bug). */
    int (*fsm_apply)(void *ctx, const void *buf, size_t len);
    /* FSM snapshot: fill *buf (malloc'ed, freed by C) and *len. */
    int (*fsm_snapshot)(void *ctx, void **buf, size_t *len);
    int (*fsm_restore)(void *ctx, const void *buf, size_t len);
    /* SIGTERM, SIGINT or SIGHUP arrived. */
    void (*signal)(void *ctx, int signum);
    /* ezlb_raft_wakeup was called (from any thread; coalesced). */
    void (*wakeup)(void *ctx);
    /* One line (without '\n') from a control connection; answer with
     * ezlb_raft_ctl_respond(conn, ...) exactly once, now or later.
     * remote = 1 for TCP, 0 for the unix socket. */
    void (*ctl_request)(void *ctx, uint64_t conn, int remote, const char *peer, const char *line, size_t len);
    /* An asynchronous request started with a token finished. */
    void (*done)(void *ctx, uint64_t token, int status);
    /* HMAC-SHA256(key, msg) into out[32], for the raft transport. */
    void (*mac)(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len, uint8_t *out);
};

/* Roles and states, as plain constants. */
enum {
    EZLB_RAFT_UNAVAILABLE = 0, EZLB_RAFT_FOLLOWER = 1, EZLB_RAFT_CANDIDATE = 2, EZLB_RAFT_LEADER = 3,
    EZLB_RAFT_STANDBY = 0, EZLB_RAFT_VOTER = 1, EZLB_RAFT_SPARE = 2,
};

/* Create the loop, transport, I/O and raft instance; bootstrap a one-voter
 * configuration (this node) when bootstrap != 0. On failure returns NULL and
 * fills *err; nothing is left open. */
struct ezlb_raft_node *ezlb_raft_create(const struct ezlb_raft_callbacks *cb, const char *dir,
                                        uint64_t id, const char *address, const uint8_t *key,
                                        unsigned election_ms, unsigned heartbeat_ms, int bootstrap,
                                        struct ezlb_raft_error *err);

/* raft_start, the poll timer, the signal watchers. */
int ezlb_raft_start(struct ezlb_raft_node *n, unsigned poll_ms, struct ezlb_raft_error *err);

/* Control listeners: a unix socket (mode 0600, an existing file is replaced)
 * and a TCP address (host is an IPv4 or IPv6 literal). */
int ezlb_raft_listen_unix(struct ezlb_raft_node *n, const char *path, struct ezlb_raft_error *err);
int ezlb_raft_listen_tcp(struct ezlb_raft_node *n, const char *host, int port, struct ezlb_raft_error *err);
/* Send one line (a '\n' is appended) and close the connection. */
void ezlb_raft_ctl_respond(struct ezlb_raft_node *n, uint64_t conn, const char *line, size_t len);

/* Run the loop until every handle is closed (after ezlb_raft_stop). */
int ezlb_raft_run(struct ezlb_raft_node *n);
/* Close raft (raft_close), the I/O, the transport, timers, watchers and
 * listeners; ezlb_raft_run returns once everything is closed. Idempotent. */
void ezlb_raft_stop(struct ezlb_raft_node *n);
/* Free a node whose loop has finished (or that never ran). */
void ezlb_raft_destroy(struct ezlb_raft_node *n);
/* Thread-safe: makes the loop call cb->wakeup. */
void ezlb_raft_wakeup(struct ezlb_raft_node *n);

/* Observation (libraft 0.15 has no callbacks for these). */
int ezlb_raft_state(struct ezlb_raft_node *n);
uint64_t ezlb_raft_term(struct ezlb_raft_node *n);
uint64_t ezlb_raft_leader(struct ezlb_raft_node *n, char *addr, size_t addrlen);
uint64_t ezlb_raft_last_index(struct ezlb_raft_node *n);
uint64_t ezlb_raft_last_applied(struct ezlb_raft_node *n);
unsigned ezlb_raft_n_servers(struct ezlb_raft_node *n);
/* Server i of the current configuration; 0 when out of range. */
uint64_t ezlb_raft_server(struct ezlb_raft_node *n, unsigned i, char *addr, size_t addrlen, int *role);
const char *ezlb_raft_errmsg(struct ezlb_raft_node *n);
/* Raft connections refused (failed handshake or frame MAC) and the last
 * peer refused, "ip:port". */
uint64_t ezlb_raft_refused(struct ezlb_raft_node *n, char *peer, size_t len);
/* 1 when this node leads and heard from a majority of voters (itself
 * included) within the last election timeout; 0 otherwise. */
int ezlb_raft_leader_lease(struct ezlb_raft_node *n);
/* 1 when this node leads and server `id` is itself or acknowledged it as leader (the
 * lease's bookkeeping) within the last election timeout; 0 otherwise. */
int ezlb_raft_heard(struct ezlb_raft_node *n, uint64_t id);
const char *ezlb_raft_strerror(int code);

/* Leader-lease bookkeeping (pure; exported for tests). `ids`/`n` are the peer
 * ids recorded so far (capacity `cap`), `ats` when each was last heard,
 * `config`/`n_config` the ids of the current configuration. Returns the slot
 * for `id`: its own, else `n` while there is room, else a slot whose id left
 * the configuration, else the one heard from longest ago. */
unsigned ezlb_lease_slot(const uint64_t *ids, const uint64_t *ats, unsigned n, unsigned cap,
                         const uint64_t *config, unsigned n_config, uint64_t id);

/* Leader operations. Each returns 0 (then cb->done(token, status) follows
 * exactly once) or a RAFT_* code (no callback). */
int ezlb_raft_add(struct ezlb_raft_node *n, uint64_t token, uint64_t id, const char *address);
int ezlb_raft_assign(struct ezlb_raft_node *n, uint64_t token, uint64_t id, int role);
int ezlb_raft_remove(struct ezlb_raft_node *n, uint64_t token, uint64_t id);
/* id 0: libraft picks a voter. done's status is 0; check the leader after. */
int ezlb_raft_transfer(struct ezlb_raft_node *n, uint64_t token, uint64_t id);
/* A barrier entry: done once every earlier entry is committed and applied
 * (a new leader learns what its predecessors committed). */
int ezlb_raft_barrier(struct ezlb_raft_node *n, uint64_t token);
/* Append a command entry (copied) for the FSM. */
int ezlb_raft_apply(struct ezlb_raft_node *n, uint64_t token, const void *buf, size_t len);

#endif
