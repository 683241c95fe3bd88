/* Digests of what the managed-chain planner looks at in one x_tables table
 * (see ezlb_xt.h). Two walkers feed one canonical stream to one hash:
 *
 *  - the raw walker reads the table as IPT_SO_GET_ENTRIES returns it and splits
 *    it into chains exactly as libiptc's parser does (a chain starts at an
 *    ERROR-target entry, whose data is its name, or at a hook entry; the last
 *    entry before the next start is the chain's policy or RETURN footer and is
 *    not a rule; the table's last entry ends the last chain), and resolves a
 *    jump's verdict (a blob offset) to the chain whose head..footer range holds
 *    it, as libiptc does;
 *  - the handle walker iterates a libiptc handle's rules and takes the target
 *    names libiptc resolved.
 *
 * The stream, per scope:
 *   "EZLBXTD1" family
 *   per managed chain:  'C' name NUL, then 'A' (absent) or 'P' rule... 'E' u32 count
 *   per hook chain:     'H' name NUL, then 'A' or 'P' ('J' u32 index rule)... 'E'
 *   rule:   'R' ipt_ip|ip6t_ip6 u16 target_offset u16 next_offset
 *           ('M' u16 size name NUL u8 revision data)...
 *           'T' u16 size u8 revision, then for a standard target the verdict
 *           ('V' name NUL | 'F' (fall through) | 'X' i32 (unknown verdict or
 *           offset)), else name NUL data
 *   data:   u32 length u32 used bytes[used] (trailing zero bytes dropped).
 * A hook's 'J' records are the entries whose target is one of the scope's
 * managed chains, whatever their matches: every rule the planner could take
 * for one of its jumps, with its position among the hook's rules.
 *
 * The stream goes into the ordered part of the shared digest (ezlb_digest.h). */
#include "ezlb_xt.h"
#include "ezlb_digest.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>

/* ---- stream ---- */

#define fp ezlb_digest
static inline void fp_put(struct fp *f, const void *data, size_t len) { ezlb_digest_update(f, data, len); }
static inline void put_u8(struct fp *f, uint8_t v) { fp_put(f, &v, 1); }
static inline void put_u16(struct fp *f, uint16_t v) { fp_put(f, &v, 2); }
static inline void put_u32(struct fp *f, uint32_t v) { fp_put(f, &v, 4); }

/* A name field: its bytes up to the first NUL (at most max), then a NUL. */
static void put_name(struct fp *f, const char *s, size_t max) {
    fp_put(f, s, strnlen(s, max));
    put_u8(f, 0);
}

/* A data area: its length, then its bytes without the trailing zeros (a
 * comment match is 256 bytes, mostly padding). */
static void put_data(struct fp *f, const uint8_t *p, size_t n) {
    size_t m = n;
    while (m >= 8) {
        uint64_t w;
        memcpy(&w, p + m - 8, 8);
        if (w) break;
        m -= 8;
    }
    while (m && !p[m - 1]) m--;
    put_u32(f, (uint32_t)n);
    put_u32(f, (uint32_t)m);
    fp_put(f, p, m);
}

/* ---- rules ---- */

/* What a standard target stands for: a verdict or chain name, a fall-through,
 * or something neither parser can name. */
struct label {
    char kind;          /* 'V', 'F', 'X' */
    const char *name;   /* 'V' */
    int32_t value;      /* 'X' */
};

static int verdict_label(int32_t v, struct label *l) {
    l->kind = 'V';
    switch (v) {
    case -NF_ACCEPT - 1: l->name = "ACCEPT"; return 1;
    case -NF_DROP - 1: l->name = "DROP"; return 1;
    case -NF_QUEUE - 1: l->name = "QUEUE"; return 1;
    case XT_RETURN: l->name = "RETURN"; return 1;
    default: l->kind = 'X'; l->value = v; return 0;
    }
}

static size_t entry_header(int v6) { return v6 ? sizeof(struct ip6t_entry) : sizeof(struct ipt_entry); }
static uint16_t target_offset(int v6, const uint8_t *e) {
    return v6 ? ((const struct ip6t_entry *)e)->target_offset : ((const struct ipt_entry *)e)->target_offset;
}
static uint16_t next_offset(int v6, const uint8_t *e) {
    return v6 ? ((const struct ip6t_entry *)e)->next_offset : ((const struct ipt_entry *)e)->next_offset;
}

/* Whether the entry's offsets hold a target inside `avail` bytes. */
static int entry_fits(int v6, const uint8_t *e, size_t avail) {
    size_t hdr = entry_header(v6);
    if (avail < hdr) return 0;
    size_t toff = target_offset(v6, e), noff = next_offset(v6, e);
    if (noff > avail || toff < hdr || toff + sizeof(struct xt_entry_target) > noff) return 0;
    const struct xt_entry_target *t = (const void *)(e + toff);
    return t->u.target_size >= sizeof *t && toff + t->u.target_size <= noff;
}

static const struct xt_entry_target *target_of(int v6, const uint8_t *e) {
    return (const void *)(e + target_offset(v6, e));
}

static int is_standard_size(const struct xt_entry_target *t) {
    return t->u.target_size == XT_ALIGN(sizeof(struct xt_standard_target));
}

/* One rule into the stream; `l` is the standard target's meaning (NULL for a
 * target module). Returns 0 or EINVAL (a match that does not fit). */
static int put_rule(struct fp *f, int v6, const uint8_t *e, const struct label *l) {
    size_t hdr = entry_header(v6), toff = target_offset(v6, e);
    put_u8(f, 'R');
    if (v6) fp_put(f, &((const struct ip6t_entry *)e)->ipv6, sizeof(struct ip6t_ip6));
    else fp_put(f, &((const struct ipt_entry *)e)->ip, sizeof(struct ipt_ip));
    put_u16(f, (uint16_t)toff);
    put_u16(f, next_offset(v6, e));
    for (size_t off = hdr; off < toff;) {
        const struct xt_entry_match *m = (const void *)(e + off);
        if (off + sizeof *m > toff || m->u.match_size < sizeof *m || off + m->u.match_size > toff) return EINVAL;
        put_u8(f, 'M');
        put_u16(f, m->u.match_size);
        put_name(f, m->u.user.name, sizeof m->u.user.name);
        put_u8(f, m->u.user.revision);
        put_data(f, m->data, m->u.match_size - sizeof *m);
        off += m->u.match_size;
    }
    const struct xt_entry_target *t = target_of(v6, e);
    put_u8(f, 'T');
    put_u16(f, t->u.target_size);
    put_u8(f, t->u.user.revision);
    if (l) {
        put_u8(f, (uint8_t)l->kind);
        if (l->kind == 'V') put_name(f, l->name, XT_TABLE_MAXNAMELEN);
        else if (l->kind == 'X') put_u32(f, (uint32_t)l->value);
    } else {
        put_name(f, t->u.user.name, sizeof t->u.user.name);
        put_data(f, t->data, t->u.target_size - sizeof *t);
    }
    return 0;
}

static const char *scope_name(const char *names, int i) {
    const char *p = names;
    while (i-- > 0) p += strlen(p) + 1;
    return p;
}

static int is_managed(const char *label, const char *names, int nchains) {
    const char *p = names;
    for (int i = 0; i < nchains; i++, p += strlen(p) + 1)
        if (!strcmp(p, label)) return 1;
    return 0;
}

static void put_header(struct fp *f, int v6) {
    fp_put(f, "EZLBXTD1", 8);
    put_u8(f, (uint8_t)v6);
}

/* ---- raw tables ---- */

/* One code path reads both families: their GET_INFO and GET_ENTRIES headers agree. */
_Static_assert(sizeof(struct ipt_getinfo) == sizeof(struct ip6t_getinfo), "getinfo layouts");
_Static_assert(sizeof(struct ipt_get_entries) == sizeof(struct ip6t_get_entries), "get_entries headers");
_Static_assert(offsetof(struct ipt_get_entries, size) == offsetof(struct ip6t_get_entries, size), "get_entries size field");

struct ezlb_xt_blob {
    int v6;
    unsigned int size, valid_hooks;
    unsigned int hook_entry[NF_INET_NUMHOOKS];
    void *mem;
    const uint8_t *entries;
};

int ezlb_xt_blob_read(int v6, const char *table, struct ezlb_xt_blob **out) {
    *out = NULL;
    if (strlen(table) >= XT_TABLE_MAXNAMELEN) return EINVAL;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) return errno;
    int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    int err = EAGAIN;
    for (int attempt = 0; attempt < 8 && err == EAGAIN; attempt++) {
        /* ipt_getinfo and ip6t_getinfo are laid out alike, as are the get_entries headers. */
        struct ipt_getinfo info;
        memset(&info, 0, sizeof info);
        strcpy(info.name, table);
        socklen_t len = sizeof info;
        if (getsockopt(fd, level, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO, &info, &len) < 0) { err = errno; break; }
        size_t hdr = sizeof(struct ipt_get_entries);
        struct ipt_get_entries *g = malloc(hdr + info.size);
        if (!g) { err = ENOMEM; break; }
        memset(g, 0, hdr);
        strcpy(g->name, table);
        g->size = info.size;
        len = (socklen_t)(hdr + info.size);
        if (getsockopt(fd, level, v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, g, &len) < 0) {
            err = errno; /* EAGAIN: replaced with another size in between */
            free(g);
            continue;
        }
        struct ezlb_xt_blob *b = calloc(1, sizeof *b);
        if (!b) { free(g); err = ENOMEM; break; }
        b->v6 = v6;
        b->size = info.size;
        b->valid_hooks = info.valid_hooks;
        memcpy(b->hook_entry, info.hook_entry, sizeof b->hook_entry);
        b->mem = g;
        b->entries = (const uint8_t *)g + hdr;
        *out = b;
        err = 0;
    }
    close(fd);
    return err;
}

void ezlb_xt_blob_free(struct ezlb_xt_blob *b) {
    if (!b) return;
    free(b->mem);
    free(b);
}

static const char *const hook_names[NF_INET_NUMHOOKS] = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING" };

struct chain {
    const char *name;
    size_t name_max;
    unsigned head, foot;    /* offsets: the ERROR entry or hook entry, the footer */
    unsigned first, count;  /* rules: entry indices first ..< first + count */
};

struct parsed {
    unsigned *offs;         /* offset of every entry, in blob order */
    unsigned nentries;
    struct chain *chains;
    unsigned nchains, cap;
};

static void parsed_free(struct parsed *p) {
    free(p->offs);
    free(p->chains);
}

/* Ends the current chain: its last entry is the footer. */
static int close_chain(struct parsed *p, int cur) {
    if (cur < 0) return 0;
    struct chain *c = &p->chains[cur];
    if (c->count == 0) return EINVAL;
    c->count--;
    c->foot = p->offs[c->first + c->count];
    return 0;
}

static int open_chain(struct parsed *p, const char *name, size_t max, unsigned head, unsigned first) {
    if (p->nchains == p->cap) {
        unsigned cap = p->cap ? p->cap * 2 : 32;
        struct chain *c = realloc(p->chains, cap * sizeof *c);
        if (!c) return -1;
        p->chains = c;
        p->cap = cap;
    }
    p->chains[p->nchains] = (struct chain){ .name = name, .name_max = max, .head = head, .first = first };
    return (int)p->nchains++;
}

static int parse_blob(const struct ezlb_xt_blob *b, struct parsed *p) {
    memset(p, 0, sizeof *p);
    int v6 = b->v6;
    unsigned n = 0;
    for (size_t off = 0; off < b->size;) {
        const uint8_t *e = b->entries + off;
        if (!entry_fits(v6, e, b->size - off)) return EINVAL;
        off += next_offset(v6, e);
        n++;
    }
    if (n == 0) return EINVAL;
    p->offs = malloc(n * sizeof *p->offs);
    if (!p->offs) return ENOMEM;
    p->nentries = n;
    int cur = -1;
    unsigned i = 0;
    for (size_t off = 0; off < b->size; i++) {
        const uint8_t *e = b->entries + off;
        size_t noff = next_offset(v6, e);
        p->offs[i] = (unsigned)off;
        const struct xt_entry_target *t = target_of(v6, e);
        if (off + noff == b->size) {
            /* The table's last entry (an ERROR target): ends the last chain. */
            if (close_chain(p, cur)) return EINVAL;
            cur = -1;
        } else if (!strncmp(t->u.user.name, XT_ERROR_TARGET, sizeof t->u.user.name)) {
            if (close_chain(p, cur)) return EINVAL;
            const struct xt_error_target *et = (const void *)t;
            size_t max = t->u.target_size - sizeof *t;
            if (max > sizeof et->errorname) max = sizeof et->errorname;
            cur = open_chain(p, et->errorname, max, (unsigned)off, i + 1);
            if (cur < 0) return ENOMEM;
        } else {
            for (int h = 0; h < NF_INET_NUMHOOKS; h++) {
                if (!(b->valid_hooks & (1u << h)) || b->hook_entry[h] != off) continue;
                if (close_chain(p, cur)) return EINVAL;
                cur = open_chain(p, hook_names[h], XT_TABLE_MAXNAMELEN, (unsigned)off, i);
                if (cur < 0) return ENOMEM;
                break;
            }
            if (cur < 0) return EINVAL; /* a rule outside every chain */
            p->chains[cur].count++;
        }
        off += noff;
    }
    return 0;
}

/* The chain named `name`: its index, -1 when there is none, -2 when there are several. */
static int find_chain(const struct parsed *p, const char *name) {
    int found = -1;
    for (unsigned i = 0; i < p->nchains; i++) {
        const struct chain *c = &p->chains[i];
        if (strnlen(c->name, c->name_max) == strlen(name) && !strncmp(c->name, name, c->name_max)) {
            if (found >= 0) return -2;
            found = (int)i;
        }
    }
    return found;
}

/* A standard target in the blob: its verdict's name, a fall-through, or the chain
 * whose head..footer range holds the offset it jumps to (chains are in blob order). */
static int raw_label(const struct parsed *p, int v6, const uint8_t *e, unsigned off, struct label *l) {
    const struct xt_standard_target *st = (const void *)target_of(v6, e);
    if (!is_standard_size(&st->target)) return EINVAL;
    int32_t v = st->verdict;
    if (v < 0) { verdict_label(v, l); return 0; }
    if ((uint32_t)v == off + next_offset(v6, e)) { l->kind = 'F'; return 0; }
    unsigned lo = 0, hi = p->nchains;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (p->chains[mid].head <= (uint32_t)v) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && (uint32_t)v <= p->chains[lo - 1].foot) {
        const struct chain *c = &p->chains[lo - 1];
        /* Names are NUL-terminated within the field for every chain libiptc writes. */
        if (strnlen(c->name, c->name_max) == c->name_max) return EINVAL;
        l->kind = 'V';
        l->name = c->name;
        return 0;
    }
    l->kind = 'X';
    l->value = v;
    return 0;
}

static int raw_is_standard(int v6, const uint8_t *e) { return target_of(v6, e)->u.user.name[0] == 0; }

int ezlb_xt_blob_digest(const struct ezlb_xt_blob *b, const char *names, int nchains, int nhooks,
                        uint8_t out[EZLB_DIGEST_STATE_LEN]) {
    struct parsed p;
    int err = parse_blob(b, &p);
    if (err) { parsed_free(&p); return err; }
    int v6 = b->v6;
    struct fp f;
    ezlb_digest_init(&f);
    put_header(&f, v6);
    for (int i = 0; i < nchains + nhooks && !err; i++) {
        const char *name = scope_name(names, i);
        int hook = i >= nchains;
        put_u8(&f, hook ? 'H' : 'C');
        put_name(&f, name, XT_TABLE_MAXNAMELEN);
        int ci = find_chain(&p, name);
        if (ci == -2) { err = EINVAL; break; }
        if (ci < 0) { put_u8(&f, 'A'); continue; }
        put_u8(&f, 'P');
        const struct chain *c = &p.chains[ci];
        for (unsigned k = 0; k < c->count && !err; k++) {
            unsigned off = p.offs[c->first + k];
            const uint8_t *e = b->entries + off;
            struct label l, *lp = NULL;
            if (raw_is_standard(v6, e)) {
                if ((err = raw_label(&p, v6, e, off, &l))) break;
                lp = &l;
            }
            if (hook) {
                if (!lp || lp->kind != 'V' || !is_managed(lp->name, names, nchains)) continue;
                put_u8(&f, 'J');
                put_u32(&f, k);
            }
            err = put_rule(&f, v6, e, lp);
        }
        put_u8(&f, 'E');
        if (!hook) put_u32(&f, c->count);
    }
    parsed_free(&p);
    if (!err) ezlb_digest_final(&f, out);
    return err;
}

/* ---- libiptc handles ---- */

int ezlb_xt_handle_digest(int v6, struct xtc_handle *h, const char *names, int nchains, int nhooks,
                          uint8_t out[EZLB_DIGEST_STATE_LEN]) {
    struct fp f;
    ezlb_digest_init(&f);
    put_header(&f, v6);
    for (int i = 0; i < nchains + nhooks; i++) {
        const char *name = scope_name(names, i);
        int hook = i >= nchains;
        put_u8(&f, hook ? 'H' : 'C');
        put_name(&f, name, XT_TABLE_MAXNAMELEN);
        if (!ezlb_xt_is_chain(v6, name, h)) { put_u8(&f, 'A'); continue; }
        put_u8(&f, 'P');
        uint32_t k = 0;
        for (const uint8_t *e = ezlb_xt_first_rule(v6, name, h); e; e = ezlb_xt_next_rule(v6, e, h), k++) {
            if (!entry_fits(v6, e, next_offset(v6, e))) return EINVAL;
            const struct xt_entry_target *t = target_of(v6, e);
            struct label l, *lp = NULL;
            if (t->u.user.name[0] == 0) {
                /* A verdict, a fall-through or a jump read from the kernel. */
                if (!is_standard_size(t)) return EINVAL;
                int32_t v = ((const struct xt_standard_target *)t)->verdict;
                if (v < 0) verdict_label(v, &l);
                else {
                    const char *g = ezlb_xt_target(v6, e, h);
                    if (!g) return EINVAL;
                    if (g[0]) { l.kind = 'V'; l.name = g; } else l.kind = 'F';
                }
                lp = &l;
            } else if (ezlb_xt_is_chain(v6, t->u.user.name, h)) {
                /* A jump added to this handle: libiptc keeps the chain's name in
                 * the entry until it compiles the table. */
                if (!is_standard_size(t)) return EINVAL;
                l.kind = 'V';
                l.name = t->u.user.name;
                lp = &l;
            }
            if (hook) {
                if (!lp || lp->kind != 'V' || !is_managed(lp->name, names, nchains)) continue;
                put_u8(&f, 'J');
                put_u32(&f, k);
            }
            if (put_rule(&f, v6, e, lp)) return EINVAL;
        }
        put_u8(&f, 'E');
        if (!hook) put_u32(&f, k);
    }
    ezlb_digest_final(&f, out);
    return 0;
}
