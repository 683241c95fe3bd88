/* libraft 0.15 + libuv glue for Swift: see include/ezlb_raft.h. */
#include "ezlb_raft.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "raftwire.h"

#define CTL_MAX_LINE (64 * 1024)
/* Separate budgets: idle remote TCP connections must never lock the local
 * socket (raft status / leave) out. Remote clients send their one line at
 * once: a short idle timeout for them. */
#define CTL_MAX_UNIX_CONNS 64
#define CTL_MAX_TCP_CONNS 64
#define CTL_UNIX_READ_TIMEOUT_MS 10000
#define CTL_TCP_READ_TIMEOUT_MS 2000

struct ctl_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tcp_t tcp;
    } h;
    struct ezlb_raft_node *node;
    uint64_t id;
    int remote;
    int got_line;
    int closing;
    uint64_t opened_ms;
    char *buf;
    size_t len, cap;
    char peer[64];
    uv_write_t wr;
    char *out;
    struct ctl_conn *next, *prev;
};

struct ezlb_raft_node {
    uv_loop_t loop;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    uv_timer_t poll;
    uv_signal_t sig[3];
    uv_async_t async;
    uv_pipe_t unix_srv;
    uv_tcp_t tcp_srv;
    struct ezlb_raft_callbacks cb;
    pthread_mutex_t async_mu;
    int loop_open, async_open, raft_open, poll_open, sig_open, unix_open, tcp_open, stopping;
    struct ctl_conn *conns;
    unsigned n_unix_conns, n_tcp_conns;
    /* Leader lease: when each peer was last heard from (uv_now ms). */
    int (*orig_start)(struct raft_io *, unsigned, raft_io_tick_cb, raft_io_recv_cb);
    raft_io_recv_cb orig_recv;
    uint64_t heard_id[64], heard_at[64], heard_term[64];
    unsigned n_heard;
    uint64_t next_conn_id;
    struct req *reqs;
    unsigned n_done;
    uint64_t late_callbacks;
    char unix_path[108];
};

struct req {
    union {
        struct raft_change change;
        struct raft_transfer transfer;
        struct raft_apply apply;
        struct raft_barrier barrier;
    } u;
    struct ezlb_raft_node *node;
    uint64_t token;
    int kind, done;
    uint64_t done_at;  /* uv_now when finished */
    struct req *next; /* node->reqs: kept after completion, see finish() */
};

static void set_err(struct ezlb_raft_error *err, const char *call, int code, const char *msg)
{
    if (err == NULL)
        return;
    snprintf(err->call, sizeof err->call, "%s", call);
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", msg != NULL ? msg : "");
}

static void set_raft_err(struct ezlb_raft_error *err, const char *call, int rv, const char *detail)
{
    char msg[320];
    if (detail != NULL && detail[0] != '\0' && strcmp(detail, raft_strerror(rv)) != 0)
        snprintf(msg, sizeof msg, "%s (%s)", raft_strerror(rv), detail);
    else
        snprintf(msg, sizeof msg, "%s", raft_strerror(rv));
    set_err(err, call, rv, msg);
}

static void set_uv_err(struct ezlb_raft_error *err, const char *call, int rv)
{
    set_err(err, call, rv, uv_strerror(rv));
}

/* ---- FSM ---------------------------------------------------------------- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    struct ezlb_raft_node *n = fsm->data;
    *result = NULL;
    return n->cb.fsm_apply(n->cb.ctx, buf->base, buf->len);
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct ezlb_raft_node *n = fsm->data;
    void *data = NULL;
    size_t len = 0;
    int rv = n->cb.fsm_snapshot(n->cb.ctx, &data, &len);
    if (rv != 0)
        return rv;
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) {
        free(data);
        return RAFT_NOMEM;
    }
    (*bufs)[0].base = raft_malloc(len > 0 ? len : 1);
    if ((*bufs)[0].base == NULL) {
        raft_free(*bufs);
        free(data);
        return RAFT_NOMEM;
    }
    if (len > 0)
        memcpy((*bufs)[0].base, data, len);
    (*bufs)[0].len = len;
    *n_bufs = 1;
    free(data);
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct ezlb_raft_node *n = fsm->data;
    int rv = n->cb.fsm_restore(n->cb.ctx, buf->base, buf->len);
    /* restore owns the buffer */
    raft_free(buf->base);
    return rv;
}

/* ---- create / start / stop ---------------------------------------------- */

/* ---- leader lease --------------------------------------------------------
 * libraft 0.15 checks a leader's contact with a majority only once per
 * election timeout, so a cut-off leader keeps saying "leader" for up to two
 * election timeouts. We interpose on the I/O's receive callback to note when
 * each peer last acknowledged this node as leader; ezlb_raft_leader_lease()
 * then tells whether a majority of voters did so within one election timeout.
 * A voter grants another candidate its vote only after its own election timer
 * (>= one election timeout since it last took our heartbeat) expired, so the
 * lease ends before, or within a network round trip of, any other leader's
 * election. */

static struct ezlb_raft_node *node_of_io(struct raft_io *io)
{
    return (struct ezlb_raft_node *)((char *)io - offsetof(struct ezlb_raft_node, io));
}

/* Only messages by which a peer accepts this node as leader of the current
 * term count: an AppendEntries result of this term (the peer took our
 * heartbeat) or a vote granted in this term (the peer reset its timer for
 * us). A vote request from a peer means it gave up on us: it does not count. */
static void lease_recv(struct raft_io *io, struct raft_message *msg)
{
    struct ezlb_raft_node *n = node_of_io(io);
    raft_term term = n->raft.current_term;
    int acks = (msg->type == RAFT_IO_APPEND_ENTRIES_RESULT && msg->append_entries_result.term == term) ||
               (msg->type == RAFT_IO_REQUEST_VOTE_RESULT && msg->request_vote_result.term == term &&
                msg->request_vote_result.vote_granted && msg->request_vote_result.pre_vote != raft_tribool_true);
    if (acks) {
        enum { cap = sizeof n->heard_id / sizeof n->heard_id[0] };
        uint64_t config[cap];
        unsigned nc = 0;
        for (unsigned k = 0; k < n->raft.configuration.n && nc < cap; k++)
            config[nc++] = n->raft.configuration.servers[k].id;
        unsigned i = ezlb_lease_slot(n->heard_id, n->heard_at, n->n_heard, cap, config, nc, msg->server_id);
        if (i == n->n_heard)
            n->n_heard++;
        n->heard_id[i] = msg->server_id;
        n->heard_at[i] = uv_now(&n->loop);
        n->heard_term[i] = term;
    }
    n->orig_recv(io, msg);
}

unsigned ezlb_lease_slot(const uint64_t *ids, const uint64_t *ats, unsigned n, unsigned cap,
                         const uint64_t *config, unsigned n_config, uint64_t id)
{
    for (unsigned i = 0; i < n; i++)
        if (ids[i] == id)
            return i;
    if (n < cap)
        return n;
    /* Full (ids of removed members pile up over a long life): reuse one that left the
     * configuration, else the one heard from longest ago. */
    unsigned oldest = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned k;
        for (k = 0; k < n_config; k++)
            if (config[k] == ids[i])
                break;
        if (k == n_config)
            return i;
        if (ats[i] < ats[oldest])
            oldest = i;
    }
    return oldest;
}

static int lease_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    struct ezlb_raft_node *n = node_of_io(io);
    n->orig_recv = recv;
    return n->orig_start(io, msecs, tick, lease_recv);
}

int ezlb_raft_heard(struct ezlb_raft_node *n, uint64_t id)
{
    if (!n->raft_open || raft_state(&n->raft) != RAFT_LEADER)
        return 0;
    if (id == n->raft.id)
        return 1;
    uint64_t now = uv_now(&n->loop);
    for (unsigned j = 0; j < n->n_heard; j++)
        if (n->heard_id[j] == id && n->heard_term[j] == n->raft.current_term && now - n->heard_at[j] <= n->raft.election_timeout)
            return 1;
    return 0;
}

int ezlb_raft_leader_lease(struct ezlb_raft_node *n)
{
    if (!n->raft_open || raft_state(&n->raft) != RAFT_LEADER)
        return 0;
    uint64_t now = uv_now(&n->loop);
    unsigned voters = 0, reached = 0;
    for (unsigned i = 0; i < n->raft.configuration.n; i++) {
        const struct raft_server *s = &n->raft.configuration.servers[i];
        if (s->role != RAFT_VOTER)
            continue;
        voters++;
        if (s->id == n->raft.id) {
            reached++;
            continue;
        }
        for (unsigned j = 0; j < n->n_heard; j++)
            if (n->heard_id[j] == s->id && n->heard_term[j] == n->raft.current_term &&
                now - n->heard_at[j] <= n->raft.election_timeout)
                reached++;
    }
    return reached * 2 > voters;
}

static void drain(struct ezlb_raft_node *n)
{
    for (int i = 0; i < 100 && uv_run(&n->loop, UV_RUN_NOWAIT) != 0; i++)
        ;
}

static void on_async(uv_async_t *h)
{
    struct ezlb_raft_node *n = h->data;
    if (!n->stopping)
        n->cb.wakeup(n->cb.ctx);
}

struct ezlb_raft_node *ezlb_raft_create(const struct ezlb_raft_callbacks *cb, const char *dir,
                                        uint64_t id, const char *address, const uint8_t *key,
                                        unsigned election_ms, unsigned heartbeat_ms, int bootstrap,
                                        struct ezlb_raft_error *err)
{
    struct ezlb_raft_node *n = calloc(1, sizeof *n);
    int rv;
    if (n == NULL) {
        set_err(err, "calloc", RAFT_NOMEM, "out of memory");
        return NULL;
    }
    n->cb = *cb;
    n->next_conn_id = 1;
    pthread_mutex_init(&n->async_mu, NULL);
    rv = uv_loop_init(&n->loop);
    if (rv != 0) {
        set_uv_err(err, "uv_loop_init", rv);
        free(n);
        return NULL;
    }
    n->loop_open = 1;
    rv = uv_async_init(&n->loop, &n->async, on_async);
    if (rv != 0) {
        set_uv_err(err, "uv_async_init", rv);
        goto fail_loop;
    }
    n->async.data = n;
    n->async_open = 1;

    rv = ezlb_wire_init(&n->transport, &n->loop, key, cb->mac);
    if (rv != 0) {
        set_raft_err(err, "ezlb_wire_init", rv, n->transport.errmsg);
        goto fail_loop;
    }
    rv = raft_uv_init(&n->io, &n->loop, dir, &n->transport);
    if (rv != 0) {
        set_raft_err(err, "raft_uv_init", rv, n->io.errmsg);
        ezlb_wire_free(&n->transport);
        goto fail_loop;
    }
    n->orig_start = n->io.start;
    n->io.start = lease_start;
    n->fsm.version = 1;
    n->fsm.data = n;
    n->fsm.apply = fsm_apply;
    n->fsm.snapshot = fsm_snapshot;
    n->fsm.restore = fsm_restore;
    rv = raft_init(&n->raft, &n->io, &n->fsm, id, address);
    if (rv != 0) {
        set_raft_err(err, "raft_init", rv, n->io.errmsg[0] ? n->io.errmsg : raft_errmsg(&n->raft));
        raft_uv_close(&n->io);
        ezlb_wire_free(&n->transport);
        goto fail_loop;
    }
    n->raft.data = n;
    n->raft_open = 1;
    if (election_ms > 0)
        raft_set_election_timeout(&n->raft, election_ms);
    if (heartbeat_ms > 0)
        raft_set_heartbeat_timeout(&n->raft, heartbeat_ms);
    /* Few entries (member names): snapshot rarely, keep a long tail. */
    raft_set_snapshot_threshold(&n->raft, 1024);
    raft_set_snapshot_trailing(&n->raft, 512);
    /* A server cut off from the others must not disturb the cluster when it
     * comes back (it would bump the term and depose a healthy leader). */
    raft_set_pre_vote(&n->raft, true);

    if (bootstrap) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        rv = raft_configuration_add(&conf, id, address, RAFT_VOTER);
        if (rv == 0)
            rv = raft_bootstrap(&n->raft, &conf);
        raft_configuration_close(&conf);
        if (rv != 0) {
            set_raft_err(err, "raft_bootstrap", rv, raft_errmsg(&n->raft));
            ezlb_raft_stop(n);
            drain(n);
            ezlb_raft_destroy(n);
            return NULL;
        }
    }
    return n;

fail_loop:
    ezlb_raft_stop(n);
    drain(n);
    ezlb_raft_destroy(n);
    return NULL;
}

static void on_poll(uv_timer_t *t);
static void on_signal(uv_signal_t *s, int signum);
static void sweep_reqs(struct ezlb_raft_node *n);

int ezlb_raft_start(struct ezlb_raft_node *n, unsigned poll_ms, struct ezlb_raft_error *err)
{
    static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
    int rv = raft_start(&n->raft);
    if (rv != 0) {
        set_raft_err(err, "raft_start", rv, raft_errmsg(&n->raft));
        return rv;
    }
    rv = uv_timer_init(&n->loop, &n->poll);
    if (rv != 0) {
        set_uv_err(err, "uv_timer_init", rv);
        return rv;
    }
    n->poll.data = n;
    n->poll_open = 1;
    rv = uv_timer_start(&n->poll, on_poll, poll_ms, poll_ms);
    if (rv != 0) {
        set_uv_err(err, "uv_timer_start", rv);
        return rv;
    }
    for (int i = 0; i < 3; i++) {
        rv = uv_signal_init(&n->loop, &n->sig[i]);
        if (rv != 0) {
            set_uv_err(err, "uv_signal_init", rv);
            return rv;
        }
        n->sig[i].data = n;
        n->sig_open |= 1 << i;
        rv = uv_signal_start(&n->sig[i], on_signal, sigs[i]);
        if (rv != 0) {
            set_uv_err(err, "uv_signal_start", rv);
            return rv;
        }
    }
    return 0;
}

static void close_conn(struct ctl_conn *c);

static void on_poll(uv_timer_t *t)
{
    struct ezlb_raft_node *n = t->data;
    uint64_t now = uv_now(&n->loop);
    /* Connections that never sent a full request line are dropped. */
    for (struct ctl_conn *c = n->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (!c->got_line && !c->closing &&
            now - c->opened_ms > (c->remote ? CTL_TCP_READ_TIMEOUT_MS : CTL_UNIX_READ_TIMEOUT_MS))
            close_conn(c);
    }
    sweep_reqs(n);
    if (!n->stopping)
        n->cb.tick(n->cb.ctx);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct ezlb_raft_node *n = s->data;
    if (!n->stopping)
        n->cb.signal(n->cb.ctx, signum);
}

static void on_raft_closed(struct raft *r)
{
    struct ezlb_raft_node *n = r->data;
    raft_uv_close(&n->io);
    ezlb_wire_free(&n->transport);
}

void ezlb_raft_stop(struct ezlb_raft_node *n)
{
    if (n->stopping)
        return;
    n->stopping = 1;
    if (n->poll_open) {
        uv_close((uv_handle_t *)&n->poll, NULL);
        n->poll_open = 0;
    }
    for (int i = 0; i < 3; i++)
        if (n->sig_open & (1 << i))
            uv_close((uv_handle_t *)&n->sig[i], NULL);
    n->sig_open = 0;
    pthread_mutex_lock(&n->async_mu);
    if (n->async_open) {
        uv_close((uv_handle_t *)&n->async, NULL);
        n->async_open = 0;
    }
    pthread_mutex_unlock(&n->async_mu);
    if (n->unix_open) {
        uv_close((uv_handle_t *)&n->unix_srv, NULL);
        n->unix_open = 0;
        unlink(n->unix_path);
    }
    if (n->tcp_open) {
        uv_close((uv_handle_t *)&n->tcp_srv, NULL);
        n->tcp_open = 0;
    }
    for (struct ctl_conn *c = n->conns, *next; c != NULL; c = next) {
        next = c->next;
        close_conn(c);
    }
    if (n->raft_open) {
        n->raft_open = 0;
        raft_close(&n->raft, on_raft_closed);
    }
}

int ezlb_raft_run(struct ezlb_raft_node *n)
{
    return uv_run(&n->loop, UV_RUN_DEFAULT);
}

void ezlb_raft_destroy(struct ezlb_raft_node *n)
{
    if (n == NULL)
        return;
    if (n->loop_open) {
        drain(n);
        if (uv_loop_close(&n->loop) != 0)
            return; /* handles still open: leak rather than free live memory */
        n->loop_open = 0;
    }
    pthread_mutex_destroy(&n->async_mu);
    while (n->reqs != NULL) {
        struct req *r = n->reqs;
        n->reqs = r->next;
        free(r);
    }
    free(n);
}

void ezlb_raft_wakeup(struct ezlb_raft_node *n)
{
    pthread_mutex_lock(&n->async_mu);
    if (n->async_open)
        uv_async_send(&n->async);
    pthread_mutex_unlock(&n->async_mu);
}

/* ---- observation -------------------------------------------------------- */

int ezlb_raft_state(struct ezlb_raft_node *n)
{
    return n->raft_open ? raft_state(&n->raft) : RAFT_UNAVAILABLE;
}

uint64_t ezlb_raft_term(struct ezlb_raft_node *n)
{
    return n->raft.current_term;
}

uint64_t ezlb_raft_leader(struct ezlb_raft_node *n, char *addr, size_t addrlen)
{
    raft_id id = 0;
    const char *a = NULL;
    if (addrlen > 0)
        addr[0] = '\0';
    if (!n->raft_open)
        return 0;
    raft_leader(&n->raft, &id, &a);
    if (a != NULL && addrlen > 0)
        snprintf(addr, addrlen, "%s", a);
    return id;
}

uint64_t ezlb_raft_last_index(struct ezlb_raft_node *n) { return raft_last_index(&n->raft); }
uint64_t ezlb_raft_last_applied(struct ezlb_raft_node *n) { return raft_last_applied(&n->raft); }
unsigned ezlb_raft_n_servers(struct ezlb_raft_node *n) { return n->raft.configuration.n; }

uint64_t ezlb_raft_server(struct ezlb_raft_node *n, unsigned i, char *addr, size_t addrlen, int *role)
{
    if (i >= n->raft.configuration.n)
        return 0;
    const struct raft_server *s = &n->raft.configuration.servers[i];
    if (addrlen > 0)
        snprintf(addr, addrlen, "%s", s->address != NULL ? s->address : "");
    *role = s->role;
    return s->id;
}

uint64_t ezlb_raft_refused(struct ezlb_raft_node *n, char *peer, size_t len)
{
    return ezlb_wire_refused(&n->transport, peer, len);
}
const char *ezlb_raft_errmsg(struct ezlb_raft_node *n) { return raft_errmsg(&n->raft); }
const char *ezlb_raft_strerror(int code) { return code < 0 ? uv_strerror(code) : raft_strerror(code); }

/* ---- leader operations -------------------------------------------------- */

static struct req *new_req(struct ezlb_raft_node *n, uint64_t token)
{
    struct req *r = calloc(1, sizeof *r);
    if (r != NULL) {
        r->node = n;
        r->token = token;
        r->next = n->reqs;
        n->reqs = r;
    }
    return r;
}

/* A request libraft refused at once: never seen by libraft, freed now. */
static void drop_req(struct req *r)
{
    struct ezlb_raft_node *n = r->node;
    for (struct req **p = &n->reqs; *p != NULL; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    free(r);
}

static void finish(struct req *r, int status)
{
    struct ezlb_raft_node *n = r->node;
    if (r->done) {
        n->late_callbacks++;
        fprintf(stderr, "ezlb: libraft called back twice for request %llu (kind %d, status %d)\n",
                (unsigned long long)r->token, r->kind, status);
        return;
    }
    r->done = 1;
    r->done_at = uv_now(&n->loop);
    n->cb.done(n->cb.ctx, r->token, status);
}

/* libraft 0.15 still touches a request after its callback in some leadership
 * changes (a transfer while a barrier or command is in flight: SIGSEGV through a
 * function pointer read from the freed request, 2 runs in 3 of the #19 scenario).
 * Finished requests are therefore kept REQ_GRACE_MS before they are freed (and a
 * second callback is ignored and logged). A few hundred bytes each. */
#define REQ_GRACE_MS 60000
static void sweep_reqs(struct ezlb_raft_node *n)
{
    uint64_t now = uv_now(&n->loop);
    for (struct req **p = &n->reqs; *p != NULL;) {
        struct req *r = *p;
        if (r->done && now - r->done_at > REQ_GRACE_MS) {
            *p = r->next;
            free(r);
        } else {
            p = &r->next;
        }
    }
}

static void on_change(struct raft_change *c, int status) { finish(c->data, status); }
static void on_transfer(struct raft_transfer *t) { finish(t->data, 0); }
static void on_barrier(struct raft_barrier *b, int status) { finish(b->data, status); }
static void on_apply(struct raft_apply *a, int status, void *result)
{
    (void)result;
    finish(a->data, status);
}

int ezlb_raft_add(struct ezlb_raft_node *n, uint64_t token, uint64_t id, const char *address)
{
    struct req *r = new_req(n, token);
    if (r == NULL)
        return RAFT_NOMEM;
    r->u.change.data = r;
    r->kind = 1;
    int rv = raft_add(&n->raft, &r->u.change, id, address, on_change);
    if (rv != 0)
        drop_req(r);
    return rv;
}

int ezlb_raft_assign(struct ezlb_raft_node *n, uint64_t token, uint64_t id, int role)
{
    struct req *r = new_req(n, token);
    if (r == NULL)
        return RAFT_NOMEM;
    r->u.change.data = r;
    r->kind = 1;
    int rv = raft_assign(&n->raft, &r->u.change, id, role, on_change);
    if (rv != 0)
        drop_req(r);
    return rv;
}

int ezlb_raft_remove(struct ezlb_raft_node *n, uint64_t token, uint64_t id)
{
    struct req *r = new_req(n, token);
    if (r == NULL)
        return RAFT_NOMEM;
    r->u.change.data = r;
    r->kind = 1;
    int rv = raft_remove(&n->raft, &r->u.change, id, on_change);
    if (rv != 0)
        drop_req(r);
    return rv;
}

int ezlb_raft_transfer(struct ezlb_raft_node *n, uint64_t token, uint64_t id)
{
    struct req *r = new_req(n, token);
    if (r == NULL)
        return RAFT_NOMEM;
    r->u.transfer.data = r;
    r->kind = 2;
    int rv = raft_transfer(&n->raft, &r->u.transfer, id, on_transfer);
    if (rv != 0)
        drop_req(r);
    return rv;
}

int ezlb_raft_barrier(struct ezlb_raft_node *n, uint64_t token)
{
    struct req *r = new_req(n, token);
    if (r == NULL)
        return RAFT_NOMEM;
    r->u.barrier.data = r;
    r->kind = 3;
    int rv = raft_barrier(&n->raft, &r->u.barrier, on_barrier);
    if (rv != 0)
        drop_req(r);
    return rv;
}

int ezlb_raft_apply(struct ezlb_raft_node *n, uint64_t token, const void *buf, size_t len)
{
    struct raft_buffer b;
    struct req *r = new_req(n, token);
    if (r == NULL)
        return RAFT_NOMEM;
    /* libraft's on-disk and wire encodings assume entry payloads padded to
     * 8 bytes (an unpadded entry shifts every later one in a batch); pad
     * with spaces, which every JSON reader skips. */
    b.len = (len + 7) & ~(size_t)7;
    if (b.len == 0)
        b.len = 8;
    b.base = raft_malloc(b.len);
    if (b.base == NULL) {
        drop_req(r);
        return RAFT_NOMEM;
    }
    memset(b.base, ' ', b.len);
    if (len > 0)
        memcpy(b.base, buf, len);
    r->u.apply.data = r;
    r->kind = 4;
    int rv = raft_apply(&n->raft, &r->u.apply, &b, 1, on_apply);
    if (rv != 0) {
        raft_free(b.base);
        drop_req(r);
    }
    return rv;
}

/* ---- control endpoint ---------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    struct ctl_conn *c = h->data;
    struct ezlb_raft_node *n = c->node;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        n->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->remote)
        n->n_tcp_conns--;
    else
        n->n_unix_conns--;
    free(c->buf);
    free(c->out);
    free(c);
}

static void close_conn(struct ctl_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close(&c->h.handle, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[4096]; /* one loop thread: reads never overlap */
    buf->base = slab;
    buf->len = sizeof slab;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct ctl_conn *c = s->data;
    struct ezlb_raft_node *n = c->node;
    if (nread < 0) {
        close_conn(c);
        return;
    }
    if (nread == 0 || c->got_line)
        return;
    if (c->len + (size_t)nread > CTL_MAX_LINE) {
        close_conn(c);
        return;
    }
    if (c->len + (size_t)nread + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap < c->len + (size_t)nread + 1)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (nb == NULL) {
            close_conn(c);
            return;
        }
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, buf->base, (size_t)nread);
    c->len += (size_t)nread;
    c->buf[c->len] = '\0';
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl == NULL)
        return;
    *nl = '\0';
    c->got_line = 1;
    uv_read_stop(s);
    n->cb.ctl_request(n->cb.ctx, c->id, c->remote, c->peer, c->buf, (size_t)(nl - c->buf));
}

static void on_connection(uv_stream_t *server, int status)
{
    struct ezlb_raft_node *n = server->data;
    int remote = server == (uv_stream_t *)&n->tcp_srv;
    if (status < 0 || n->stopping)
        return;
    struct ctl_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->node = n;
    c->id = n->next_conn_id++;
    c->remote = remote;
    c->opened_ms = uv_now(&n->loop);
    int rv = remote ? uv_tcp_init(&n->loop, &c->h.tcp) : uv_pipe_init(&n->loop, &c->h.pipe, 0);
    if (rv != 0) {
        free(c);
        return;
    }
    c->h.handle.data = c;
    c->next = n->conns;
    if (n->conns != NULL)
        n->conns->prev = c;
    n->conns = c;
    unsigned open = remote ? ++n->n_tcp_conns : ++n->n_unix_conns;
    if (uv_accept(server, &c->h.stream) != 0 || open > (remote ? CTL_MAX_TCP_CONNS : CTL_MAX_UNIX_CONNS)) {
        close_conn(c);
        return;
    }
    if (remote) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0) {
            if (ss.ss_family == AF_INET6)
                uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
            else
                uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
        }
    } else {
        snprintf(c->peer, sizeof c->peer, "unix");
    }
    if (uv_read_start(&c->h.stream, on_alloc, on_read) != 0)
        close_conn(c);
}

int ezlb_raft_listen_unix(struct ezlb_raft_node *n, const char *path, struct ezlb_raft_error *err)
{
    int rv;
    if (strlen(path) >= sizeof n->unix_path) {
        set_err(err, "uv_pipe_bind", UV_ENAMETOOLONG, "socket path too long");
        return UV_ENAMETOOLONG;
    }
    rv = uv_pipe_init(&n->loop, &n->unix_srv, 0);
    if (rv != 0) {
        set_uv_err(err, "uv_pipe_init", rv);
        return rv;
    }
    n->unix_srv.data = n;
    n->unix_open = 1;
    snprintf(n->unix_path, sizeof n->unix_path, "%s", path);
    unlink(path);
    rv = uv_pipe_bind(&n->unix_srv, path);
    if (rv != 0) {
        set_uv_err(err, "uv_pipe_bind", rv);
        return rv;
    }
    chmod(path, 0600);
    rv = uv_listen((uv_stream_t *)&n->unix_srv, 16, on_connection);
    if (rv != 0) {
        set_uv_err(err, "uv_listen", rv);
        return rv;
    }
    return 0;
}

int ezlb_raft_listen_tcp(struct ezlb_raft_node *n, const char *host, int port, struct ezlb_raft_error *err)
{
    struct sockaddr_storage ss;
    int rv;
    memset(&ss, 0, sizeof ss);
    if (strchr(host, ':') != NULL)
        rv = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        rv = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rv != 0) {
        set_uv_err(err, "uv_ip_addr", rv);
        return rv;
    }
    rv = uv_tcp_init(&n->loop, &n->tcp_srv);
    if (rv != 0) {
        set_uv_err(err, "uv_tcp_init", rv);
        return rv;
    }
    n->tcp_srv.data = n;
    n->tcp_open = 1;
    rv = uv_tcp_bind(&n->tcp_srv, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&n->tcp_srv, 16, on_connection);
    if (rv != 0) {
        set_uv_err(err, "uv_tcp_bind/uv_listen", rv);
        return rv;
    }
    return 0;
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    close_conn(w->data);
}

void ezlb_raft_ctl_respond(struct ezlb_raft_node *n, uint64_t conn, const char *line, size_t len)
{
    struct ctl_conn *c = n->conns;
    while (c != NULL && c->id != conn)
        c = c->next;
    if (c == NULL || c->closing || c->out != NULL)
        return;
    c->out = malloc(len + 1);
    if (c->out == NULL) {
        close_conn(c);
        return;
    }
    memcpy(c->out, line, len);
    c->out[len] = '\n';
    uv_buf_t b = uv_buf_init(c->out, (unsigned)(len + 1));
    c->wr.data = c;
    if (uv_write(&c->wr, &c->h.stream, &b, 1, on_written) != 0)
        close_conn(c);
}
