/* nftables backend: libnftnl builds and parses the messages, libmnl carries them.
 * See ezlb_nft.h. One transaction is built message by message into an nftnl batch and sent
 * with one sendmsg; every message asks for an ACK, so the commit knows when the kernel has
 * answered all of them (an error for the batch itself, e.g. EPERM, comes alone). */
#include "ezlb_nft.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#define PAGE_BYTES (256u * 1024u)
#define ELEMS_PER_MESSAGE 1024u
#define ALIGN4(n) (((n) + 3u) & ~3u)
#define DUMP_BYTES (1u << 17)

struct ezlb_nft {
    struct mnl_socket *nl;
    uint32_t portid;
    uint32_t seq;
    struct nftnl_batch *batch;
    uint32_t messages;      /* ACK-flagged messages in the batch */
    uint32_t first_seq;     /* seq of the first of them */
    /* The kind of each message by its offset from first_seq (for error text). */
    uint8_t *kind;
    uint32_t kind_cap;
    uint8_t buf[DUMP_BYTES];
};

enum { K_TABLE, K_CHAIN, K_SET, K_ELEM, K_RULE, K_DELRULE, K_DELTABLE, K_DELELEM };
static const char *kind_name(uint8_t k) {
    switch (k) {
    case K_TABLE: return "table";
    case K_DELTABLE: return "table deletion";
    case K_CHAIN: return "chain";
    case K_SET: return "set";
    case K_ELEM: return "set element";
    case K_DELELEM: return "set element deletion";
    case K_RULE: return "rule";
    case K_DELRULE: return "rule deletion";
    }
    return "message";
}

struct ezlb_nft *ezlb_nft_open(int *err) {
    struct ezlb_nft *n = calloc(1, sizeof *n);
    if (!n) { *err = ENOMEM; return NULL; }
    n->nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!n->nl) { *err = errno; free(n); return NULL; }
    if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        *err = errno; mnl_socket_close(n->nl); free(n); return NULL;
    }
    n->portid = mnl_socket_get_portid(n->nl);
    n->seq = (uint32_t)time(NULL);
    return n;
}

void ezlb_nft_close(struct ezlb_nft *n) {
    if (!n) return;
    if (n->batch) nftnl_batch_free(n->batch);
    mnl_socket_close(n->nl);
    free(n->kind);
    free(n);
}

void ezlb_nft_batch_reset(struct ezlb_nft *n) {
    if (n->batch) nftnl_batch_free(n->batch);
    n->batch = NULL;
    n->messages = 0;
}

/* The batch, begun; NULL when out of memory. */
static struct nftnl_batch *batch(struct ezlb_nft *n) {
    if (n->batch) return n->batch;
    n->batch = nftnl_batch_alloc(PAGE_BYTES, PAGE_BYTES);
    if (!n->batch) return NULL;
    nftnl_batch_begin(nftnl_batch_buffer(n->batch), n->seq++);
    nftnl_batch_update(n->batch);
    n->first_seq = n->seq;
    return n->batch;
}

/* A message header for the next ACK-flagged message of kind k; NULL when out of memory. */
static struct nlmsghdr *msg(struct ezlb_nft *n, uint16_t type, uint16_t family, uint16_t flags, uint8_t k) {
    struct nftnl_batch *b = batch(n);
    if (!b) return NULL;
    if (n->messages >= n->kind_cap) {
        uint32_t cap = n->kind_cap ? n->kind_cap * 2 : 64;
        uint8_t *p = realloc(n->kind, cap);
        if (!p) return NULL;
        n->kind = p; n->kind_cap = cap;
    }
    n->kind[n->messages++] = k;
    return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b), type, family, flags | NLM_F_ACK, n->seq++);
}

static void done(struct ezlb_nft *n) { nftnl_batch_update(n->batch); }

int ezlb_nft_b_table(struct ezlb_nft *n, int del, uint16_t family, const char *table) {
    struct nftnl_table *t = nftnl_table_alloc();
    if (!t) return ENOMEM;
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
    struct nlmsghdr *h = msg(n, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE, family, del ? 0 : NLM_F_CREATE, del ? K_DELTABLE : K_TABLE);
    if (!h) { nftnl_table_free(t); return ENOMEM; }
    nftnl_table_nlmsg_build_payload(h, t);
    nftnl_table_free(t);
    done(n);
    return 0;
}

int ezlb_nft_b_chain(struct ezlb_nft *n, uint16_t family, const char *table, const char *chain,
                     const char *type, uint32_t hook, int32_t prio, uint32_t policy) {
    struct nftnl_chain *c = nftnl_chain_alloc();
    if (!c) return ENOMEM;
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
    if (type) {
        nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
        nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
        nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
    }
    struct nlmsghdr *h = msg(n, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE, K_CHAIN);
    if (!h) { nftnl_chain_free(c); return ENOMEM; }
    nftnl_chain_nlmsg_build_payload(h, c);
    nftnl_chain_free(c);
    done(n);
    return 0;
}

int ezlb_nft_b_set(struct ezlb_nft *n, uint16_t family, const char *table, const char *set, uint32_t id,
                   uint32_t key_type, uint32_t key_len, uint32_t data_type, uint32_t data_len) {
    if (!table || !set) return EINVAL;
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s) return ENOMEM;
    nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
    nftnl_set_set_str(s, NFTNL_SET_NAME, set);
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, family);
    nftnl_set_set_u32(s, NFTNL_SET_ID, id);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
    if (data_len) {
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, data_type);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, data_len);
    } else {
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
    }
    struct nlmsghdr *h = msg(n, NFT_MSG_NEWSET, family, NLM_F_CREATE, K_SET);
    if (!h) { nftnl_set_free(s); return ENOMEM; }
    nftnl_set_nlmsg_build_payload(h, s);
    nftnl_set_free(s);
    done(n);
    return 0;
}

int ezlb_nft_b_elems(struct ezlb_nft *n, int del, uint16_t family, const char *table, const char *set,
                     const uint8_t *keys, uint32_t key_len, const uint8_t *data, uint32_t data_len, uint32_t count) {
    /* All of a message's elements sit in one NFTA_SET_ELEM_LIST_ELEMENTS nest, whose length is
     * 16 bits: per element its nest, the key nest with its value and the data nest with its value. */
    uint32_t per = 4 + 8 + ALIGN4(key_len) + (data_len && !del ? 8 + ALIGN4(data_len) : 0);
    uint32_t chunk = (65535u - 64u) / per;
    if (chunk > ELEMS_PER_MESSAGE) chunk = ELEMS_PER_MESSAGE;
    if (chunk == 0) return EINVAL;
    for (uint32_t start = 0; start < count; start += chunk) {
        uint32_t end = count - start > chunk ? start + chunk : count;
        struct nftnl_set *s = nftnl_set_alloc();
        if (!s) return ENOMEM;
        nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
        nftnl_set_set_str(s, NFTNL_SET_NAME, set);
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, family);
        for (uint32_t i = start; i < end; i++) {
            struct nftnl_set_elem *e = nftnl_set_elem_alloc();
            if (!e) { nftnl_set_free(s); return ENOMEM; }
            nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, keys + (size_t)i * key_len, key_len);
            if (data_len && !del) nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data + (size_t)i * data_len, data_len);
            nftnl_set_elem_add(s, e);
        }
        struct nlmsghdr *h = msg(n, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, family, del ? 0 : NLM_F_CREATE,
                                 del ? K_DELELEM : K_ELEM);
        if (!h) { nftnl_set_free(s); return ENOMEM; }
        nftnl_set_elems_nlmsg_build_payload(h, s);
        nftnl_set_free(s);
        done(n);
    }
    return 0;
}

/* One expression from its flat form. */
static struct nftnl_expr *build_expr(const struct ezlb_nft_expr *x) {
    struct nftnl_expr *e = nftnl_expr_alloc(x->name);
    if (!e) return NULL;
    const char *k = x->name;
    if (!strcmp(k, "meta")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, x->key);
        if (x->dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, x->dreg);
        if (x->sreg) nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, x->sreg);
    } else if (!strcmp(k, "ct")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, x->key);
        if (x->dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, x->dreg);
        if (x->sreg) nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, x->sreg);
        if (x->dir >= 0) nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t)x->dir);
    } else if (!strcmp(k, "payload")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, x->dreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, x->base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, x->offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, x->len);
    } else if (!strcmp(k, "cmp")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, x->sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, x->op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, x->data, x->data_len);
    } else if (!strcmp(k, "bitwise")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, x->sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, x->dreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, x->len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, x->data, x->data_len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, x->xor_, x->xor_len);
    } else if (!strcmp(k, "lookup")) {
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, x->ref);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, x->sreg);
        if (x->dreg) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, x->dreg);
        if (x->flags) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, x->flags);
    } else if (!strcmp(k, "masq")) {
        if (x->flags) nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, x->flags);
    } else if (!strcmp(k, "nat")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, x->nat_type);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, x->nat_family);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, x->sreg);
        if (x->flags) nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, x->flags);
    } else if (!strcmp(k, "immediate")) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, x->dreg);
        if (x->dreg == NFT_REG_VERDICT) {
            nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)x->verdict);
            if (x->ref[0]) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, x->ref);
        } else {
            nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, x->data, x->data_len);
        }
    } else if (!strcmp(k, "counter")) {
        /* nothing to set */
    } else {
        nftnl_expr_free(e);
        return NULL;
    }
    return e;
}

int ezlb_nft_b_rule(struct ezlb_nft *n, uint16_t family, const char *table, const char *chain,
                    const struct ezlb_nft_expr *x, uint32_t count, const char *comment) {
    struct nftnl_rule *r = nftnl_rule_alloc();
    if (!r) return ENOMEM;
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
    for (uint32_t i = 0; i < count; i++) {
        struct nftnl_expr *e = build_expr(&x[i]);
        if (!e) { nftnl_rule_free(r); return EINVAL; }
        nftnl_rule_add_expr(r, e);
    }
    if (comment && comment[0]) {
        struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(256);
        if (!u) { nftnl_rule_free(r); return ENOMEM; }
        if (!nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment)) { nftnl_udata_buf_free(u); nftnl_rule_free(r); return EINVAL; }
        nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
        nftnl_udata_buf_free(u);
    }
    struct nlmsghdr *h = msg(n, NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND, K_RULE);
    if (!h) { nftnl_rule_free(r); return ENOMEM; }
    nftnl_rule_nlmsg_build_payload(h, r);
    nftnl_rule_free(r);
    done(n);
    return 0;
}

int ezlb_nft_b_del_rule(struct ezlb_nft *n, uint16_t family, const char *table, const char *chain, uint64_t handle) {
    struct nftnl_rule *r = nftnl_rule_alloc();
    if (!r) return ENOMEM;
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
    nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
    struct nlmsghdr *h = msg(n, NFT_MSG_DELRULE, family, 0, K_DELRULE);
    if (!h) { nftnl_rule_free(r); return ENOMEM; }
    nftnl_rule_nlmsg_build_payload(h, r);
    nftnl_rule_free(r);
    done(n);
    return 0;
}

int ezlb_nft_commit(struct ezlb_nft *n, char *what, size_t what_len) {
    if (what_len) what[0] = 0;
    if (!n->batch || !n->messages) { ezlb_nft_batch_reset(n); return 0; }
    nftnl_batch_end(nftnl_batch_buffer(n->batch), n->seq++);
    nftnl_batch_update(n->batch);
    int iovlen = nftnl_batch_iovec_len(n->batch);
    struct iovec *iov = calloc((size_t)iovlen, sizeof *iov);
    if (!iov) { ezlb_nft_batch_reset(n); return ENOMEM; }
    nftnl_batch_iovec(n->batch, iov, (uint32_t)iovlen);
    size_t total = 0;
    for (int i = 0; i < iovlen; i++) total += iov[i].iov_len;
    int fd = mnl_socket_get_fd(n->nl);
    /* The whole batch goes in one datagram: the socket must take it (root may exceed wmem_max).
     * Every ACK is queued while sendmsg runs: room for each (an skb of ~1 KiB truesize; the
     * acknowledged message is not echoed with NETLINK_CAP_ACK), never less than the default. */
    int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    int snd = (int)(total + 65536), rcv = (int)(n->messages * 1024u + 65536u), cur = 0;
    socklen_t cl = sizeof cur;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cur, &cl) < 0 || cur < rcv * 2) {
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    }
    struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
    struct msghdr m = { .msg_name = &snl, .msg_namelen = sizeof snl, .msg_iov = iov, .msg_iovlen = (size_t)iovlen };
    ssize_t sent = sendmsg(fd, &m, 0);
    int saved = errno;
    free(iov);
    uint32_t expected = n->messages, first = n->first_seq;
    ezlb_nft_batch_reset(n);
    if (sent < 0) { if (what_len) snprintf(what, what_len, "batch"); return saved; }

    int err = 0;
    uint32_t answered = 0;
    while (answered < expected) {
        /* Wait for the kernel; once an error is in, only drain what is already there. */
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int pr = poll(&p, 1, err ? 100 : 10000);
        if (pr == 0) { if (!err) { err = ETIMEDOUT; if (what_len) snprintf(what, what_len, "kernel answer"); } break; }
        if (pr < 0) { if (errno == EINTR) continue; if (!err) err = errno; break; }
        ssize_t len = recv(fd, n->buf, sizeof n->buf, 0);
        if (len < 0) { if (errno == EINTR) continue; if (!err) err = errno; break; }
        const struct nlmsghdr *h = (const void *)n->buf;
        int left = (int)len;
        while (mnl_nlmsg_ok(h, left)) {
            /* Only the answers to this batch's messages count (an error for the batch's own
             * begin/end message has another seq and is an error all the same). */
            uint32_t off = h->nlmsg_seq - first;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
                if (off < expected) answered++;
                if (e->error && !err) {
                    err = -e->error;
                    if (what_len) snprintf(what, what_len, "%s", off < expected && off < n->kind_cap ? kind_name(n->kind[off]) : "batch");
                }
            }
            h = mnl_nlmsg_next(h, &left);
        }
    }
    /* Whatever else is queued (an answer after an error) is not the next request's. */
    while (recv(fd, n->buf, sizeof n->buf, MSG_DONTWAIT) > 0) {}
    return err;
}

static int gen_cb(const struct nlmsghdr *h, void *data) {
    struct nftnl_gen *g = nftnl_gen_alloc();
    if (!g) return MNL_CB_ERROR;
    if (nftnl_gen_nlmsg_parse(h, g) == 0 && nftnl_gen_is_set(g, NFTNL_GEN_ID)) {
        *(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
        nftnl_gen_free(g);
        return MNL_CB_STOP;
    }
    nftnl_gen_free(g);
    return MNL_CB_ERROR;
}

int ezlb_nft_genid(struct ezlb_nft *n, uint32_t *id) {
    char b[MNL_SOCKET_BUFFER_SIZE];
    uint32_t seq = n->seq++;
    struct nlmsghdr *h = nftnl_nlmsg_build_hdr(b, NFT_MSG_GETGEN, NFPROTO_UNSPEC, 0, seq);
    if (mnl_socket_sendto(n->nl, h, h->nlmsg_len) < 0) return errno;
    ssize_t len = mnl_socket_recvfrom(n->nl, n->buf, sizeof n->buf);
    if (len < 0) return errno;
    int r = mnl_cb_run(n->buf, (size_t)len, seq, n->portid, gen_cb, id);
    return r < 0 ? (errno ? errno : EIO) : 0;
}

/* ---- dumps ---- */

/* Runs a dump to its end. A dump the kernel marks interrupted (the ruleset changed meanwhile,
 * NLM_F_DUMP_INTR) is read to its end and reported as EINTR: the caller starts over. */
static int run_dump(struct ezlb_nft *n, struct nlmsghdr *h, mnl_cb_t cb, void *data) {
    uint32_t seq = h->nlmsg_seq;
    if (mnl_socket_sendto(n->nl, h, h->nlmsg_len) < 0) return errno;
    int err = 0;
    for (;;) {
        ssize_t len = mnl_socket_recvfrom(n->nl, n->buf, sizeof n->buf);
        if (len < 0) return errno;
        int r = mnl_cb_run(n->buf, (size_t)len, seq, n->portid, err ? NULL : cb, data);
        if (r == MNL_CB_STOP) return err;
        if (r < 0) {
            if (errno != EINTR) return errno ? errno : EIO;
            err = EINTR;
            /* Drain: the rest of this datagram's messages and the next ones up to NLMSG_DONE. */
            const struct nlmsghdr *m = (const void *)n->buf;
            int left = (int)len, done = 0;
            while (mnl_nlmsg_ok(m, left)) { if (m->nlmsg_type == NLMSG_DONE) done = 1; m = mnl_nlmsg_next(m, &left); }
            if (done) return err;
        }
    }
}

struct tables_ctx { ezlb_nft_table_cb cb; void *ctx; };
static int table_cb(const struct nlmsghdr *h, void *data) {
    struct tables_ctx *c = data;
    struct nftnl_table *t = nftnl_table_alloc();
    if (!t) return MNL_CB_ERROR;
    if (nftnl_table_nlmsg_parse(h, t) == 0)
        c->cb(c->ctx, (uint16_t)nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), nftnl_table_get_str(t, NFTNL_TABLE_NAME));
    nftnl_table_free(t);
    return MNL_CB_OK;
}

int ezlb_nft_list_tables(struct ezlb_nft *n, ezlb_nft_table_cb cb, void *ctx) {
    char b[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = nftnl_nlmsg_build_hdr(b, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, n->seq++);
    struct tables_ctx c = { cb, ctx };
    return run_dump(n, h, table_cb, &c);
}

struct chains_ctx { ezlb_nft_chain_cb cb; void *ctx; const char *table; };
static int chain_cb(const struct nlmsghdr *h, void *data) {
    struct chains_ctx *c = data;
    struct nftnl_chain *ch = nftnl_chain_alloc();
    if (!ch) return MNL_CB_ERROR;
    if (nftnl_chain_nlmsg_parse(h, ch) == 0) {
        const char *table = nftnl_chain_get_str(ch, NFTNL_CHAIN_TABLE);
        if (!c->table || (table && !strcmp(table, c->table))) {
            int base = nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM);
            const char *type = nftnl_chain_is_set(ch, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(ch, NFTNL_CHAIN_TYPE) : "";
            c->cb(c->ctx, (uint16_t)nftnl_chain_get_u32(ch, NFTNL_CHAIN_FAMILY), table, nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME),
                  type, base, base ? nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM) : 0,
                  base ? nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO) : 0,
                  nftnl_chain_is_set(ch, NFTNL_CHAIN_POLICY) ? nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY) : NF_ACCEPT);
        }
    }
    nftnl_chain_free(ch);
    return MNL_CB_OK;
}

int ezlb_nft_list_chains(struct ezlb_nft *n, uint16_t family, const char *table, ezlb_nft_chain_cb cb, void *ctx) {
    char b[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = nftnl_nlmsg_build_hdr(b, NFT_MSG_GETCHAIN, family, NLM_F_DUMP, n->seq++);
    struct chains_ctx c = { cb, ctx, table };
    return run_dump(n, h, chain_cb, &c);
}

/* An expression in its flat form (what build_expr takes; unknown kinds keep only their name). */
static int read_expr(struct nftnl_expr *e, void *data) {
    struct ezlb_nft_expr **cursor = data;
    struct ezlb_nft_expr *x = *cursor;
    memset(x, 0, sizeof *x);
    x->dir = -1;
    const char *k = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    snprintf(x->name, sizeof x->name, "%s", k ? k : "?");
    uint32_t len = 0;
    const void *p;
#define U32(attr, field) do { if (nftnl_expr_is_set(e, attr)) x->field = nftnl_expr_get_u32(e, attr); } while (0)
#define BYTES(attr, field, lenfield) do { if (nftnl_expr_is_set(e, attr) && (p = nftnl_expr_get(e, attr, &len))) { \
        x->lenfield = len > sizeof x->field ? (uint32_t)sizeof x->field : len; memcpy(x->field, p, x->lenfield); } } while (0)
    if (!strcmp(x->name, "meta")) { U32(NFTNL_EXPR_META_KEY, key); U32(NFTNL_EXPR_META_DREG, dreg); U32(NFTNL_EXPR_META_SREG, sreg); }
    else if (!strcmp(x->name, "ct")) {
        U32(NFTNL_EXPR_CT_KEY, key); U32(NFTNL_EXPR_CT_DREG, dreg); U32(NFTNL_EXPR_CT_SREG, sreg);
        if (nftnl_expr_is_set(e, NFTNL_EXPR_CT_DIR)) x->dir = nftnl_expr_get_u8(e, NFTNL_EXPR_CT_DIR);
    } else if (!strcmp(x->name, "payload")) {
        U32(NFTNL_EXPR_PAYLOAD_DREG, dreg); U32(NFTNL_EXPR_PAYLOAD_SREG, sreg); U32(NFTNL_EXPR_PAYLOAD_BASE, base);
        U32(NFTNL_EXPR_PAYLOAD_OFFSET, offset); U32(NFTNL_EXPR_PAYLOAD_LEN, len);
    } else if (!strcmp(x->name, "cmp")) {
        U32(NFTNL_EXPR_CMP_SREG, sreg); U32(NFTNL_EXPR_CMP_OP, op); BYTES(NFTNL_EXPR_CMP_DATA, data, data_len);
    } else if (!strcmp(x->name, "bitwise")) {
        U32(NFTNL_EXPR_BITWISE_SREG, sreg); U32(NFTNL_EXPR_BITWISE_DREG, dreg); U32(NFTNL_EXPR_BITWISE_LEN, len);
        U32(NFTNL_EXPR_BITWISE_OP, op);
        BYTES(NFTNL_EXPR_BITWISE_MASK, data, data_len); BYTES(NFTNL_EXPR_BITWISE_XOR, xor_, xor_len);
    } else if (!strcmp(x->name, "lookup")) {
        const char *s = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
        snprintf(x->ref, sizeof x->ref, "%s", s ? s : "");
        U32(NFTNL_EXPR_LOOKUP_SREG, sreg); U32(NFTNL_EXPR_LOOKUP_DREG, dreg); U32(NFTNL_EXPR_LOOKUP_FLAGS, flags);
        x->vmap = nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_DREG) && x->dreg == NFT_REG_VERDICT;
    } else if (!strcmp(x->name, "masq")) { U32(NFTNL_EXPR_MASQ_FLAGS, flags); }
    else if (!strcmp(x->name, "nat")) {
        U32(NFTNL_EXPR_NAT_TYPE, nat_type); U32(NFTNL_EXPR_NAT_FAMILY, nat_family); U32(NFTNL_EXPR_NAT_REG_ADDR_MIN, sreg);
        U32(NFTNL_EXPR_NAT_FLAGS, flags);
    } else if (!strcmp(x->name, "immediate")) {
        U32(NFTNL_EXPR_IMM_DREG, dreg);
        if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) x->verdict = (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
        if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)) snprintf(x->ref, sizeof x->ref, "%s", nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
        BYTES(NFTNL_EXPR_IMM_DATA, data, data_len);
    } else if (!strcmp(x->name, "match")) {
        const char *s = nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME);
        snprintf(x->ref, sizeof x->ref, "%s", s ? s : "");
        U32(NFTNL_EXPR_MT_REV, rev);
        BYTES(NFTNL_EXPR_MT_INFO, info, info_len);
    } else if (!strcmp(x->name, "target")) {
        const char *s = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
        snprintf(x->ref, sizeof x->ref, "%s", s ? s : "");
        U32(NFTNL_EXPR_TG_REV, rev);
    }
#undef U32
#undef BYTES
    *cursor = x + 1;
    return 0;
}

static int count_expr(struct nftnl_expr *e, void *data) { (void)e; (*(uint32_t *)data)++; return 0; }

static int comment_cb(const struct nftnl_udata *attr, void *data) {
    /* Another program's comment without its NUL is left out (it would be read past its end). */
    const char *s = nftnl_udata_get(attr);
    uint8_t len = nftnl_udata_len(attr);
    if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 && s[len - 1] == 0) *(const char **)data = s;
    return 0;
}

struct rules_ctx { ezlb_nft_rule_cb cb; void *ctx; const char *table; };
static int rule_cb(const struct nlmsghdr *h, void *data) {
    struct rules_ctx *c = data;
    struct nftnl_rule *r = nftnl_rule_alloc();
    if (!r) return MNL_CB_ERROR;
    if (nftnl_rule_nlmsg_parse(h, r) == 0) {
        const char *table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
        if (!c->table || (table && !strcmp(table, c->table))) {
            uint32_t count = 0;
            nftnl_expr_foreach(r, count_expr, &count);
            struct ezlb_nft_expr *xs = calloc(count ? count : 1, sizeof *xs), *cursor = xs;
            if (!xs) { nftnl_rule_free(r); return MNL_CB_ERROR; }
            nftnl_expr_foreach(r, read_expr, &cursor);
            const char *comment = "";
            if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
                uint32_t ulen = 0;
                const void *u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
                /* The comment attribute is NUL-terminated (nftnl_udata_put_strz); anything else stays "". */
                const char *found = NULL;
                if (u && nftnl_udata_parse(u, ulen, comment_cb, &found) >= 0 && found) comment = found;
            }
            c->cb(c->ctx, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), table, nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
                  nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE), xs, count, comment);
            free(xs);
        }
    }
    nftnl_rule_free(r);
    return MNL_CB_OK;
}

int ezlb_nft_list_rules(struct ezlb_nft *n, uint16_t family, const char *table, ezlb_nft_rule_cb cb, void *ctx) {
    char b[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = nftnl_nlmsg_build_hdr(b, NFT_MSG_GETRULE, family, NLM_F_DUMP, n->seq++);
    if (table) {
        struct nftnl_rule *r = nftnl_rule_alloc();
        if (!r) return ENOMEM;
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_nlmsg_build_payload(h, r);
        nftnl_rule_free(r);
    }
    struct rules_ctx c = { cb, ctx, table };
    return run_dump(n, h, rule_cb, &c);
}

struct sets_ctx { ezlb_nft_set_cb cb; void *ctx; };
static int set_cb(const struct nlmsghdr *h, void *data) {
    struct sets_ctx *c = data;
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s) return MNL_CB_ERROR;
    if (nftnl_set_nlmsg_parse(h, s) == 0) {
        uint32_t flags = nftnl_set_is_set(s, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(s, NFTNL_SET_FLAGS) : 0;
        int map = (flags & NFT_SET_MAP) != 0;
        c->cb(c->ctx, nftnl_set_get_str(s, NFTNL_SET_NAME), nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
              nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), map ? nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE) : 0,
              map ? nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN) : 0, flags);
    }
    nftnl_set_free(s);
    return MNL_CB_OK;
}

int ezlb_nft_list_sets(struct ezlb_nft *n, uint16_t family, const char *table, ezlb_nft_set_cb cb, void *ctx) {
    char b[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = nftnl_nlmsg_build_hdr(b, NFT_MSG_GETSET, family, NLM_F_DUMP | NLM_F_ACK, n->seq++);
    if (!table) return EINVAL;
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s) return ENOMEM;
    nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
    nftnl_set_nlmsg_build_payload(h, s);
    nftnl_set_free(s);
    struct sets_ctx c = { cb, ctx };
    return run_dump(n, h, set_cb, &c);
}

struct elems_ctx { ezlb_nft_elem_cb cb; void *ctx; };
static int each_elem(struct nftnl_set_elem *e, void *data) {
    struct elems_ctx *c = data;
    uint32_t klen = 0, dlen = 0;
    const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
    const void *d = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA) ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen) : NULL;
    if (k) c->cb(c->ctx, k, klen, d, d ? dlen : 0);
    return 0;
}
static int elem_cb(const struct nlmsghdr *h, void *data) {
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s) return MNL_CB_ERROR;
    if (nftnl_set_elems_nlmsg_parse(h, s) == 0) nftnl_set_elem_foreach(s, each_elem, data);
    nftnl_set_free(s);
    return MNL_CB_OK;
}

int ezlb_nft_list_elems(struct ezlb_nft *n, uint16_t family, const char *table, const char *set, ezlb_nft_elem_cb cb, void *ctx) {
    char b[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *h = nftnl_nlmsg_build_hdr(b, NFT_MSG_GETSETELEM, family, NLM_F_DUMP | NLM_F_ACK, n->seq++);
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s) return ENOMEM;
    nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
    nftnl_set_set_str(s, NFTNL_SET_NAME, set);
    nftnl_set_elems_nlmsg_build_payload(h, s);
    nftnl_set_free(s);
    struct elems_ctx c = { cb, ctx };
    return run_dump(n, h, elem_cb, &c);
}
