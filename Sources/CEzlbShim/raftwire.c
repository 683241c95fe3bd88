/* ezlb's raft transport (see raftwire.h): libraft's messages between peers that
 * hold the cluster key K, and nobody else's.
 *
 * On connect the client sends
 *   hello     = "EZLBRFT1" | cn[32] | client id (8) | server id (8) | len (1) | client address
 * the server answers
 *   challenge = sn[32] | HMAC(K, "S" | transcript)
 * and the client, once it has checked that, proves K in turn:
 *   proof     = HMAC(K, "C" | transcript)
 * where transcript = cn | sn | client id | server id | len | client address and
 * cn, sn are fresh random nonces. Then each direction is a sequence of records
 *   len (4) | payload (1..WIRE_RECORD bytes) | tag[16]
 *   tag = first 16 bytes of HMAC(k, seq (8) | len (4) | payload)
 * with k = HMAC(K, "c2s" | cn | sn) from client to server, HMAC(K, "s2c" | cn | sn)
 * back, and seq counting the records of that direction from 0: a record cannot
 * be forged, replayed, reordered, reflected or moved to another connection.
 * Integers are big-endian. Authenticity only: raft's messages (member names,
 * addresses, terms) are not secret, so they are not encrypted.
 *
 * libraft reads and writes one end of a socketpair; this file relays between
 * the other end and the TCP connection. A failed handshake or a bad tag closes
 * the connection before libraft sees a byte of it, and is counted
 * (ezlb_wire_refused) so that the daemon can say who tried. */
#include "raftwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define WIRE_MAGIC "EZLBRFT1"
#define WIRE_NONCE 32
#define WIRE_MAC 32
#define WIRE_TAG 16
#define WIRE_RECORD (64 * 1024)
#define WIRE_ADDR_MAX 255
#define WIRE_HELLO_FIXED (8 + WIRE_NONCE + 8 + 8 + 1)
#define WIRE_IN_CAP (2 * (4 + WIRE_RECORD + WIRE_TAG))
#define WIRE_HANDSHAKE_MS 2000
#define WIRE_MAX_HANDSHAKES 64 /* pending, unauthenticated: the oldest is dropped for a newer one */
#define WIRE_MAX_HANDSHAKES_PER_IP 4
#define WIRE_HANDSHAKE_CAP 512 /* input buffer until authenticated (a hello is at most 312 bytes) */

enum { ST_CONNECTING, ST_HELLO, ST_PROOF, ST_RELAY };

struct wire;

struct conn {
    struct wire *w;
    struct conn *next, *prev;
    int server, state, closing, handles, counted;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_pipe_t local; /* our end of the socketpair, once relaying */
    int local_open;
    uv_connect_t connect;
    struct raft_uv_connect *req; /* a client's request until answered */
    raft_id cid, sid;            /* client and server ids of the transcript */
    char caddr[WIRE_ADDR_MAX + 1];
    char peer[64];
    uint8_t cn[WIRE_NONCE], sn[WIRE_NONCE];
    uint8_t k_out[WIRE_MAC], k_in[WIRE_MAC];
    uint64_t seq_out, seq_in;
    uint8_t *in;
    size_t in_len, in_cap;
};

struct wire {
    struct raft_uv_transport *transport;
    uv_loop_t *loop;
    raft_id id;
    const char *address;
    uint8_t key[32];
    ezlb_mac_fn mac;
    uv_tcp_t listener;
    int listening; /* 1 open, 2 closing */
    raft_uv_accept_cb accept_cb;
    struct conn *conns;
    unsigned n_handshakes;
    int closing;
    raft_uv_transport_close_cb close_cb;
    uint64_t refused;
    char refused_peer[64];
};

/* A write and its bytes: `data` has room for seq (8) in front of a record. */
struct wr {
    uv_write_t req;
    struct conn *c;
    uint8_t data[];
};

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

static int parse_addr(const char *address, struct sockaddr_storage *sa)
{
    char host[128];
    const char *colon = strrchr(address, ':');
    size_t hl;
    if (colon == NULL || colon[1] == '\0')
        return UV_EINVAL;
    hl = (size_t)(colon - address);
    if (hl >= sizeof host)
        return UV_EINVAL;
    memcpy(host, address, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535)
        return UV_EINVAL;
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)sa);
    }
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa);
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t len)
{
    struct sockaddr_storage sa;
    int sl = sizeof sa;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &sl) == 0) {
        if (sa.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
            snprintf(out, len, "[%s]:%d", ip, port);
            return;
        }
    }
    snprintf(out, len, "%s:%d", ip, port);
}

/* ---- closing ---- */

static void maybe_closed(struct wire *w)
{
    if (!w->closing || w->listening != 0 || w->conns != NULL || w->close_cb == NULL)
        return;
    raft_uv_transport_close_cb cb = w->close_cb;
    w->close_cb = NULL;
    cb(w->transport);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles > 0)
        return;
    struct wire *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->counted)
        w->n_handshakes--;
    struct raft_uv_connect *req = c->req;
    explicit_bzero(c->k_in, sizeof c->k_in);
    explicit_bzero(c->k_out, sizeof c->k_out);
    free(c->in);
    free(c);
    if (req != NULL)
        req->cb(req, NULL, w->closing ? RAFT_CANCELED : RAFT_NOCONNECTION);
    maybe_closed(w);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    if (c->local_open)
        uv_close((uv_handle_t *)&c->local, on_conn_handle_closed);
}

static void refuse(struct conn *c)
{
    c->w->refused++;
    snprintf(c->w->refused_peer, sizeof c->w->refused_peer, "%s", c->peer);
    conn_close(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct wire *w = h->data;
    w->listening = 0;
    maybe_closed(w);
}

static void wire_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct wire *w = t->impl;
    w->closing = 1;
    w->close_cb = cb;
    if (w->listening == 1) {
        w->listening = 2;
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
    }
    for (struct conn *c = w->conns; c != NULL; c = c->next)
        conn_close(c);
    maybe_closed(w);
}

/* ---- writing ---- */

static void on_wrote(uv_write_t *req, int status)
{
    struct wr *r = (struct wr *)req;
    struct conn *c = r->c;
    free(r);
    if (status < 0)
        conn_close(c);
}

/* Writes `len` bytes at `r->data + off` to `s`; takes `r`. */
static void send_wr(struct conn *c, uv_stream_t *s, struct wr *r, size_t off, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)r->data + off, (unsigned)len);
    r->c = c;
    if (uv_write(&r->req, s, &b, 1, on_wrote) != 0) {
        free(r);
        conn_close(c);
    }
}

static void send_bytes(struct conn *c, const uint8_t *p, size_t len)
{
    struct wr *r = malloc(sizeof *r + len);
    if (r == NULL) {
        conn_close(c);
        return;
    }
    memcpy(r->data, p, len);
    send_wr(c, (uv_stream_t *)&c->tcp, r, 0, len);
}

/* ---- handshake ---- */

static void transcript_mac(struct conn *c, const char *label, uint8_t out[WIRE_MAC])
{
    uint8_t m[3 + 2 * WIRE_NONCE + 16 + 1 + WIRE_ADDR_MAX];
    size_t n = strlen(label), alen = strlen(c->caddr);
    memcpy(m, label, n);
    memcpy(m + n, c->cn, WIRE_NONCE);
    n += WIRE_NONCE;
    memcpy(m + n, c->sn, WIRE_NONCE);
    n += WIRE_NONCE;
    put64(m + n, c->cid);
    put64(m + n + 8, c->sid);
    n += 16;
    m[n++] = (uint8_t)alen;
    memcpy(m + n, c->caddr, alen);
    n += alen;
    c->w->mac(c->w->key, sizeof c->w->key, m, n, out);
}

static void derive_keys(struct conn *c)
{
    uint8_t m[3 + 2 * WIRE_NONCE];
    uint8_t c2s[WIRE_MAC], s2c[WIRE_MAC];
    memcpy(m + 3, c->cn, WIRE_NONCE);
    memcpy(m + 3 + WIRE_NONCE, c->sn, WIRE_NONCE);
    memcpy(m, "c2s", 3);
    c->w->mac(c->w->key, sizeof c->w->key, m, sizeof m, c2s);
    memcpy(m, "s2c", 3);
    c->w->mac(c->w->key, sizeof c->w->key, m, sizeof m, s2c);
    memcpy(c->k_out, c->server ? s2c : c2s, WIRE_MAC);
    memcpy(c->k_in, c->server ? c2s : s2c, WIRE_MAC);
}

static void on_local_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_local_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* The socketpair: our end relays, the other is libraft's (freed by libraft). */
static uv_stream_t *start_relay(struct conn *c)
{
    int sv[2];
    uv_pipe_t *theirs;
    uint8_t *in;
    if (c->closing || (in = realloc(c->in, WIRE_IN_CAP)) == NULL)
        return NULL;
    c->in = in;
    c->in_cap = WIRE_IN_CAP;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    theirs = raft_malloc(sizeof *theirs);
    if (theirs == NULL || uv_pipe_init(c->w->loop, &c->local, 0) != 0) {
        raft_free(theirs);
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    c->local.data = c;
    c->local_open = 1;
    c->handles++;
    if (uv_pipe_open(&c->local, sv[0]) != 0) {
        close(sv[0]);
        close(sv[1]);
        raft_free(theirs);
        return NULL;
    }
    if (uv_pipe_init(c->w->loop, theirs, 0) != 0) {
        close(sv[1]);
        raft_free(theirs);
        return NULL;
    }
    if (uv_pipe_open(theirs, sv[1]) != 0) {
        close(sv[1]);
        uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
        return NULL;
    }
    if (uv_read_start((uv_stream_t *)&c->local, on_local_alloc, on_local_read) != 0) {
        uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
        return NULL;
    }
    c->state = ST_RELAY;
    if (c->counted) {
        c->counted = 0;
        c->w->n_handshakes--;
    }
    uv_timer_stop(&c->timer);
    return (uv_stream_t *)theirs;
}

/* The peer proved the key: session keys, then the relay; NULL (and closed) on failure. */
static uv_stream_t *authenticated(struct conn *c)
{
    derive_keys(c);
    uv_stream_t *s = start_relay(c);
    if (s == NULL)
        conn_close(c);
    return s;
}

/* Consumes what it can of c->in; returns the bytes used, 0 to wait for more. */
static size_t step(struct conn *c)
{
    struct wire *w = c->w;
    uint8_t mac[WIRE_MAC];
    if (c->server && c->state == ST_HELLO) {
        if (c->in_len < WIRE_HELLO_FIXED) {
            if (memcmp(c->in, WIRE_MAGIC, c->in_len < 8 ? c->in_len : 8) != 0)
                refuse(c);
            return 0;
        }
        size_t alen = c->in[WIRE_HELLO_FIXED - 1];
        if (memcmp(c->in, WIRE_MAGIC, 8) != 0 || alen == 0) {
            refuse(c);
            return 0;
        }
        if (c->in_len < WIRE_HELLO_FIXED + alen)
            return 0;
        memcpy(c->cn, c->in + 8, WIRE_NONCE);
        c->cid = get64(c->in + 8 + WIRE_NONCE);
        c->sid = get64(c->in + 16 + WIRE_NONCE);
        memcpy(c->caddr, c->in + WIRE_HELLO_FIXED, alen);
        c->caddr[alen] = '\0';
        if (c->sid != w->id || c->cid == 0 || strlen(c->caddr) != alen) {
            refuse(c);
            return 0;
        }
        uint8_t out[WIRE_NONCE + WIRE_MAC];
        if (getrandom(c->sn, WIRE_NONCE, 0) != WIRE_NONCE) {
            conn_close(c);
            return 0;
        }
        transcript_mac(c, "S", mac);
        memcpy(out, c->sn, WIRE_NONCE);
        memcpy(out + WIRE_NONCE, mac, WIRE_MAC);
        send_bytes(c, out, sizeof out);
        if (c->closing)
            return 0;
        c->state = ST_PROOF;
        return WIRE_HELLO_FIXED + alen;
    }
    if (c->server && c->state == ST_PROOF) {
        if (c->in_len < WIRE_MAC)
            return 0;
        transcript_mac(c, "C", mac);
        if (!same(mac, c->in, WIRE_MAC)) {
            refuse(c);
            return 0;
        }
        uv_stream_t *s = authenticated(c);
        if (s == NULL)
            return 0;
        w->accept_cb(w->transport, c->cid, c->caddr, s);
        return WIRE_MAC;
    }
    if (!c->server && c->state == ST_HELLO) {
        if (c->in_len < WIRE_NONCE + WIRE_MAC)
            return 0;
        memcpy(c->sn, c->in, WIRE_NONCE);
        transcript_mac(c, "S", mac);
        if (!same(mac, c->in + WIRE_NONCE, WIRE_MAC)) {
            refuse(c);
            return 0;
        }
        transcript_mac(c, "C", mac);
        send_bytes(c, mac, WIRE_MAC);
        if (c->closing)
            return 0;
        uv_stream_t *s = authenticated(c);
        if (s == NULL)
            return 0;
        struct raft_uv_connect *req = c->req;
        c->req = NULL;
        req->cb(req, s, 0);
        return WIRE_NONCE + WIRE_MAC;
    }
    if (c->state == ST_RELAY) {
        if (c->in_len < 4)
            return 0;
        uint32_t len = get32(c->in);
        if (len == 0 || len > WIRE_RECORD) {
            refuse(c);
            return 0;
        }
        if (c->in_len < 4 + len + WIRE_TAG)
            return 0;
        struct wr *r = malloc(sizeof *r + 12 + len);
        if (r == NULL) {
            conn_close(c);
            return 0;
        }
        put64(r->data, c->seq_in);
        memcpy(r->data + 8, c->in, 4 + len);
        c->w->mac(c->k_in, WIRE_MAC, r->data, 12 + len, mac);
        if (!same(mac, c->in + 4 + len, WIRE_TAG)) {
            free(r);
            refuse(c);
            return 0;
        }
        c->seq_in++;
        send_wr(c, (uv_stream_t *)&c->local, r, 12, len);
        return 4 + len + WIRE_TAG;
    }
    return 0;
}

static void on_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_tcp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    (void)buf;
    if (c->closing)
        return;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->in_len += (size_t)nread;
    while (!c->closing && c->in_len > 0) {
        size_t used = step(c);
        if (used == 0)
            break;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
}

/* From libraft (plaintext): seal into records to the peer. */
static void on_local_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    struct wr *r = malloc(sizeof *r + 12 + WIRE_RECORD + WIRE_TAG);
    *buf = r ? uv_buf_init((char *)r->data + 12, WIRE_RECORD) : uv_buf_init(NULL, 0);
}

static void on_local_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct wr *r = buf->base ? (struct wr *)(void *)((uint8_t *)buf->base - 12 - offsetof(struct wr, data)) : NULL;
    if (nread <= 0 || c->closing) {
        free(r);
        if (nread < 0)
            conn_close(c);
        return;
    }
    uint8_t tag[WIRE_MAC];
    put64(r->data, c->seq_out++);
    put32(r->data + 8, (uint32_t)nread);
    c->w->mac(c->k_out, WIRE_MAC, r->data, 12 + (size_t)nread, tag);
    memcpy(r->data + 12 + nread, tag, WIRE_TAG);
    send_wr(c, (uv_stream_t *)&c->tcp, r, 8, 4 + (size_t)nread + WIRE_TAG);
}

/* ---- connections ---- */

static void on_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static struct conn *conn_new(struct wire *w, int server)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->in = malloc(WIRE_HANDSHAKE_CAP);
    c->in_cap = WIRE_HANDSHAKE_CAP;
    if (c->in == NULL || uv_tcp_init(w->loop, &c->tcp) != 0) {
        free(c->in);
        free(c);
        return NULL;
    }
    c->w = w;
    c->server = server;
    c->tcp.data = c;
    uv_timer_init(w->loop, &c->timer); /* cannot fail */
    c->timer.data = c;
    c->handles = 2;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    uv_timer_start(&c->timer, on_timeout, WIRE_HANDSHAKE_MS, 0);
    return c;
}

static int same_ip(const char *a, const char *b)
{
    const char *ca = strrchr(a, ':'), *cb = strrchr(b, ':');
    return ca && cb && ca - a == cb - b && memcmp(a, b, (size_t)(ca - a)) == 0;
}

/* Unauthenticated handshakes are bounded per source address and in all: the
 * oldest pending one gives way, so that idle connections (anyone can open
 * them) cannot lock a peer out; each lasts at most WIRE_HANDSHAKE_MS. */
static void make_room(struct wire *w, struct conn *fresh)
{
    struct conn *oldest = NULL, *oldest_same = NULL;
    unsigned same = 0;
    for (struct conn *c = w->conns; c != NULL; c = c->next) {
        if (!c->counted || c->closing || c == fresh)
            continue;
        oldest = c; /* the list is newest first */
        if (same_ip(c->peer, fresh->peer)) {
            same++;
            oldest_same = c;
        }
    }
    if (same >= WIRE_MAX_HANDSHAKES_PER_IP && oldest_same != NULL)
        conn_close(oldest_same);
    else if (w->n_handshakes >= WIRE_MAX_HANDSHAKES && oldest != NULL)
        conn_close(oldest);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct wire *w = server->data;
    struct conn *c;
    if (status < 0 || w->closing || (c = conn_new(w, 1)) == NULL)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    make_room(w, c);
    c->counted = 1;
    w->n_handshakes++;
    c->state = ST_HELLO;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_tcp_alloc, on_tcp_read) != 0)
        conn_close(c);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    uv_tcp_nodelay(&c->tcp, 1);
    uint8_t hello[WIRE_HELLO_FIXED + WIRE_ADDR_MAX];
    size_t alen = strlen(c->caddr);
    memcpy(hello, WIRE_MAGIC, 8);
    memcpy(hello + 8, c->cn, WIRE_NONCE);
    put64(hello + 8 + WIRE_NONCE, c->cid);
    put64(hello + 16 + WIRE_NONCE, c->sid);
    hello[WIRE_HELLO_FIXED - 1] = (uint8_t)alen;
    memcpy(hello + WIRE_HELLO_FIXED, c->caddr, alen);
    c->state = ST_HELLO;
    send_bytes(c, hello, WIRE_HELLO_FIXED + alen);
    if (!c->closing && uv_read_start((uv_stream_t *)&c->tcp, on_tcp_alloc, on_tcp_read) != 0)
        conn_close(c);
}

static int wire_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id, const char *address,
                        raft_uv_connect_cb cb)
{
    struct wire *w = t->impl;
    struct sockaddr_storage sa;
    struct conn *c;
    int rv;
    req->cb = cb;
    if ((rv = parse_addr(address, &sa)) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "connect to %s: bad address", address);
        return RAFT_NOCONNECTION;
    }
    if (strlen(w->address) > WIRE_ADDR_MAX) {
        snprintf(t->errmsg, sizeof t->errmsg, "this node's address is longer than %d bytes", WIRE_ADDR_MAX);
        return RAFT_INVALID;
    }
    if ((c = conn_new(w, 0)) == NULL) {
        snprintf(t->errmsg, sizeof t->errmsg, "connect to %s: out of memory", address);
        return RAFT_NOMEM;
    }
    c->cid = w->id;
    c->sid = id;
    snprintf(c->caddr, sizeof c->caddr, "%s", w->address);
    snprintf(c->peer, sizeof c->peer, "%s", address);
    c->connect.data = c;
    if (getrandom(c->cn, WIRE_NONCE, 0) != WIRE_NONCE ||
        (rv = uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&sa, on_connected)) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "connect to %s: %s", address, rv ? uv_strerror(rv) : "getrandom failed");
        conn_close(c); /* c->req is not set: libraft hears of this failure from the return value only */
        return RAFT_NOCONNECTION;
    }
    c->req = req;
    return 0;
}

static int wire_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct wire *w = t->impl;
    struct sockaddr_storage sa;
    int rv;
    w->accept_cb = cb;
    if ((rv = parse_addr(w->address, &sa)) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen on %s: not an IP address and port", w->address);
        return RAFT_INVALID;
    }
    if ((rv = uv_tcp_init(w->loop, &w->listener)) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen on %s: %s", w->address, uv_strerror(rv));
        return RAFT_IOERR;
    }
    w->listener.data = w;
    w->listening = 1;
    if ((rv = uv_tcp_bind(&w->listener, (struct sockaddr *)&sa, 0)) != 0 ||
        (rv = uv_listen((uv_stream_t *)&w->listener, 128, on_connection)) != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "listen on %s: %s", w->address, uv_strerror(rv));
        w->listening = 2;
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
        return RAFT_IOERR;
    }
    return 0;
}

static int wire_init_id(struct raft_uv_transport *t, raft_id id, const char *address)
{
    struct wire *w = t->impl;
    w->id = id;
    w->address = address;
    return 0;
}

int ezlb_wire_init(struct raft_uv_transport *t, uv_loop_t *loop, const uint8_t key[32], ezlb_mac_fn mac)
{
    void *data = t->data;
    struct wire *w = calloc(1, sizeof *w);
    memset(t, 0, sizeof *t);
    t->data = data;
    if (w == NULL) {
        snprintf(t->errmsg, sizeof t->errmsg, "out of memory");
        return RAFT_NOMEM;
    }
    w->transport = t;
    w->loop = loop;
    memcpy(w->key, key, sizeof w->key);
    w->mac = mac;
    t->impl = w;
    t->init = wire_init_id;
    t->listen = wire_listen;
    t->connect = wire_connect;
    t->close = wire_close;
    return 0;
}

void ezlb_wire_free(struct raft_uv_transport *t)
{
    struct wire *w = t->impl;
    if (w != NULL)
        explicit_bzero(w->key, sizeof w->key);
    free(w);
    t->impl = NULL;
}

uint64_t ezlb_wire_refused(struct raft_uv_transport *t, char *peer, size_t len)
{
    struct wire *w = t->impl;
    if (w == NULL)
        return 0;
    if (peer != NULL && len > 0)
        snprintf(peer, len, "%s", w->refused_peer);
    return w->refused;
}
