#ifndef EZLB_XT_H
#define EZLB_XT_H
/* Building and parsing x_tables rules (struct ipt_entry / ip6t_entry) for
 * libiptc / libip6tc, one family-neutral rule description for Swift.
 * Only the matches and targets ezlb writes are understood; anything else
 * parses with understood = 0 (the planner then treats it as foreign). */
#include <stddef.h>
#include <stdint.h>
#include "ezlb_digest.h"

struct xtc_handle;

enum {
    EZLB_XT_TARGET_LABEL = 0,      /* ACCEPT, DROP, RETURN or a user chain (jump) */
    EZLB_XT_TARGET_SNAT = 1,       /* --to-source one address */
    EZLB_XT_TARGET_MASQUERADE = 2,
};

enum {
    EZLB_XT_CT_INVALID = 1 << 0,
    EZLB_XT_CT_NEW = 1 << 3,
    EZLB_XT_CT_ESTABLISHED = 1 << 1,
    EZLB_XT_CT_RELATED = 1 << 2,
    EZLB_XT_CT_UNTRACKED = 1 << 4,
};

struct ezlb_xt_rule {
    uint8_t src[16];
    uint8_t src_len;          /* prefix length; 0 = any */
    uint8_t dst[16];
    uint8_t dst_len;
    /* -i / -o: the entry's name and mask bytes as the kernel holds them (IFNAMSIZ 16;
     * all zero = no interface match; Swift's XTInterface computes and decodes them
     * the way xtables_parse_interface does) and whether the match is inverted. */
    char iniface[16];
    uint8_t iniface_mask[16];
    char outiface[16];
    uint8_t outiface_mask[16];
    uint8_t iniface_invert;
    uint8_t outiface_invert;
    uint16_t proto;           /* 0 any, 6 tcp, 17 udp, 132 sctp */
    uint16_t sport;           /* 0 = no --sport */
    uint16_t dport;           /* 0 = no --dport */
    uint16_t ctstate;         /* EZLB_XT_CT_* mask; 0 = no --ctstate */
    /* conntrack original destination (--ctproto P --ctorigdst A --ctorigdstport N): in the
     * same conntrack match as --ctstate. ctproto 0 = none; ctorigdst_set 0 = no address;
     * ctorigdstport 0 = no port. */
    uint8_t ctproto;
    uint8_t ctorigdst_set;
    uint8_t ctorigdst[16];
    uint16_t ctorigdstport;
    uint8_t mark_set;         /* -m mark --mark mark/mark_mask */
    uint32_t mark;
    uint32_t mark_mask;
    char comment[256];        /* "" = no comment match */
    int32_t target;           /* EZLB_XT_TARGET_* */
    char label[32];           /* for EZLB_XT_TARGET_LABEL */
    uint8_t to_source[16];    /* for SNAT */
    int32_t understood;       /* parse: 1 when every part of the entry is described above */
};

/* v6 = 0 uses libip4tc, 1 libip6tc. All return what libiptc returns
 * (NULL / 0 on failure with errno set). */
struct xtc_handle *ezlb_xt_init(int v6, const char *table);
void ezlb_xt_free(int v6, struct xtc_handle *h);
int ezlb_xt_commit(int v6, struct xtc_handle *h);
const char *ezlb_xt_strerror(int v6, int err);
int ezlb_xt_is_chain(int v6, const char *chain, struct xtc_handle *h);
int ezlb_xt_builtin(int v6, const char *chain, struct xtc_handle *h);
/* Chain iteration (every chain, built-in first) and a built-in chain's policy (NULL for a user chain). */
const char *ezlb_xt_first_chain(int v6, struct xtc_handle *h);
const char *ezlb_xt_next_chain(int v6, struct xtc_handle *h);
const char *ezlb_xt_policy(int v6, const char *chain, struct xtc_handle *h);
int ezlb_xt_create_chain(int v6, const char *chain, struct xtc_handle *h);
int ezlb_xt_flush_chain(int v6, const char *chain, struct xtc_handle *h);
int ezlb_xt_delete_chain(int v6, const char *chain, struct xtc_handle *h);
int ezlb_xt_delete_num(int v6, const char *chain, unsigned int num, struct xtc_handle *h);
/* Appends (num < 0) or inserts at num. Returns 1 on success; 0 with errno. */
int ezlb_xt_add_rule(int v6, const char *chain, const struct ezlb_xt_rule *r, int num, struct xtc_handle *h);

/* Rule iteration; each entry is parsed into *out. */
const void *ezlb_xt_first_rule(int v6, const char *chain, struct xtc_handle *h);
const void *ezlb_xt_next_rule(int v6, const void *prev, struct xtc_handle *h);
/* The target libiptc resolved for an entry of the handle (a verdict or chain name, "" for a
 * fall-through, a module name otherwise). */
const char *ezlb_xt_target(int v6, const void *entry, struct xtc_handle *h);
void ezlb_xt_parse(int v6, const void *entry, struct xtc_handle *h, struct ezlb_xt_rule *out);

/* Builds the entry (malloc'd, caller frees) for tests; *len receives its size. */
void *ezlb_xt_build(int v6, const struct ezlb_xt_rule *r, size_t *len);

/* Digests of what the managed-chain planner looks at in one table (xtdigest.c),
 * so that a converged `snat sync` can be recognised without libiptc's cache.
 *
 * A scope names `nchains` managed chains followed by `nhooks` chains holding
 * jumps into them, each NUL-terminated, back to back in `names`. The digest
 * covers, for each managed chain, whether it exists and every rule in order;
 * for each hook, the position and the rule of every entry whose target is one
 * of the managed chains. A rule is its user-visible bytes: the ipt_ip/ip6t_ip6
 * header, the matches and the target with their data, and for a standard
 * target (verdict or jump) the verdict's name or the target chain's name
 * instead of the blob offset. Counters, comefrom and nfcache are left out, so
 * traffic and `iptables -Z` do not change it; everything libiptc would parse
 * differently does. Two ways to compute the same digest: from a raw copy of the
 * kernel's table, and from a libiptc handle (as read, or as about to be
 * committed). */

/* One table as IPT_SO_GET_ENTRIES (IP6T_SO_GET_ENTRIES) returns it. */
struct ezlb_xt_blob;

/* Reads `table` from the kernel (GET_INFO, then GET_ENTRIES; retried when the
 * table is replaced in between). Returns 0 and *out, or an errno value. */
int ezlb_xt_blob_read(int v6, const char *table, struct ezlb_xt_blob **out);
void ezlb_xt_blob_free(struct ezlb_xt_blob *b);

/* The digest state (ezlb_digest.h) of the scope in a raw table. Returns 0, or EINVAL when the blob
 * is not laid out as libiptc lays tables out (then nothing can be said). */
int ezlb_xt_blob_digest(const struct ezlb_xt_blob *b, const char *names, int nchains, int nhooks,
                        uint8_t out[EZLB_DIGEST_STATE_LEN]);

/* The same digest from a libiptc handle. Returns 0 or EINVAL. */
int ezlb_xt_handle_digest(int v6, struct xtc_handle *h, const char *names, int nchains, int nhooks,
                          uint8_t out[EZLB_DIGEST_STATE_LEN]);

#endif
