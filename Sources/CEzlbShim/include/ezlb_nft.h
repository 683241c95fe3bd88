#ifndef EZLB_NFT_H
#define EZLB_NFT_H
/* nftables through libnftnl + libmnl (nft.c): one netlink socket, one transaction (batch)
 * at a time, and dumps of tables, chains, rules, sets and set elements. Expressions cross
 * to Swift as one flat struct each, in both directions: what ezlb builds and what the kernel
 * holds are compared as equal values. The struct carries only what ezlb's rules and the
 * doctor's forward-path check read; any other expression keeps its name and nothing else. */
#include <stddef.h>
#include <stdint.h>

struct ezlb_nft;

struct ezlb_nft_expr {
    char name[16];          /* libnftnl's expression name: meta, cmp, payload, ct, bitwise, lookup, masq, nat, immediate, counter, match, reject, … */
    uint32_t key;           /* meta, ct: NFT_META_* / NFT_CT_* */
    uint32_t dreg;          /* 0 = unset (NFT_REG_VERDICT is never a load's destination) */
    uint32_t sreg;          /* 0 = unset */
    int32_t dir;            /* ct: IP_CT_DIR_*; -1 = none */
    uint32_t base, offset, len; /* payload (base, offset, len); bitwise (len) */
    uint32_t op;            /* cmp: NFT_CMP_* */
    uint8_t data[16];       /* cmp: data; bitwise: mask; immediate: data */
    uint32_t data_len;
    uint8_t xor_[16];       /* bitwise: xor */
    uint32_t xor_len;
    uint32_t nat_type;      /* nat: NFT_NAT_SNAT / NFT_NAT_DNAT */
    uint32_t nat_family;
    uint32_t flags;         /* lookup: NFT_LOOKUP_F_INV; masq/nat: NF_NAT_RANGE_* */
    int32_t verdict;        /* immediate to the verdict register: NF_ACCEPT, NF_DROP, NFT_JUMP, … */
    char ref[64];           /* lookup: set; immediate: jump/goto chain; match: xt match name */
    uint32_t rev;           /* match: revision */
    uint8_t info[192];      /* match: its info (first 192 bytes: xt_conntrack_mtinfo3 whole) */
    uint32_t info_len;
    uint32_t vmap;          /* lookup (read back): 1 when it writes the verdict register (a verdict map) */
};

/* Opens a NETLINK_NETFILTER socket in the caller's network namespace. NULL with *err. */
struct ezlb_nft *ezlb_nft_open(int *err);
void ezlb_nft_close(struct ezlb_nft *n);

/* The transaction being built. Every add/delete below appends one message (elements: one per
 * 1,024) and returns 0 or an errno value. Nothing reaches the kernel before ezlb_nft_commit. */
void ezlb_nft_batch_reset(struct ezlb_nft *n);
int ezlb_nft_b_table(struct ezlb_nft *n, int del, uint16_t family, const char *table);
/* type NULL: a regular chain; else a base chain on `hook` at `prio` with `policy` (NF_ACCEPT/NF_DROP). */
int ezlb_nft_b_chain(struct ezlb_nft *n, uint16_t family, const char *table, const char *chain,
                     const char *type, uint32_t hook, int32_t prio, uint32_t policy);
/* data_len 0: a set; else a map to data_type/data_len. */
int ezlb_nft_b_set(struct ezlb_nft *n, uint16_t family, const char *table, const char *set, uint32_t id,
                   uint32_t key_type, uint32_t key_len, uint32_t data_type, uint32_t data_len);
/* `count` keys of key_len bytes back to back (and as many data of data_len bytes for a map). */
int ezlb_nft_b_elems(struct ezlb_nft *n, int del, uint16_t family, const char *table, const char *set,
                     const uint8_t *keys, uint32_t key_len, const uint8_t *data, uint32_t data_len, uint32_t count);
int ezlb_nft_b_rule(struct ezlb_nft *n, uint16_t family, const char *table, const char *chain,
                    const struct ezlb_nft_expr *e, uint32_t count, const char *comment);
int ezlb_nft_b_del_rule(struct ezlb_nft *n, uint16_t family, const char *table, const char *chain, uint64_t handle);
/* Sends the transaction (all or nothing) and waits for the kernel's answer. Returns 0, or the
 * first error's errno with the failing message's kind ("set element", "rule", …) in `what`. */
int ezlb_nft_commit(struct ezlb_nft *n, char *what, size_t what_len);

/* The ruleset's generation id (NFT_MSG_GETGEN): it changes with every transaction in this
 * network namespace. Returns 0 and *id, or an errno value. */
int ezlb_nft_genid(struct ezlb_nft *n, uint32_t *id);

/* Dumps. Each returns 0 or an errno value (ENOENT: no such table; EINTR: the ruleset changed
 * during the dump, whose callbacks may have seen part of it: start over). Strings and arrays
 * passed to a callback live until it returns. family 0 = every family; table NULL = every
 * table (tables and chains and rules only; sets and elements need their table). */
typedef void (*ezlb_nft_table_cb)(void *ctx, uint16_t family, const char *table);
int ezlb_nft_list_tables(struct ezlb_nft *n, ezlb_nft_table_cb cb, void *ctx);
typedef void (*ezlb_nft_chain_cb)(void *ctx, uint16_t family, const char *table, const char *chain, const char *type,
                                  int base, uint32_t hook, int32_t prio, uint32_t policy);
int ezlb_nft_list_chains(struct ezlb_nft *n, uint16_t family, const char *table, ezlb_nft_chain_cb cb, void *ctx);
typedef void (*ezlb_nft_rule_cb)(void *ctx, uint16_t family, const char *table, const char *chain, uint64_t handle,
                                 const struct ezlb_nft_expr *e, uint32_t count, const char *comment);
int ezlb_nft_list_rules(struct ezlb_nft *n, uint16_t family, const char *table, ezlb_nft_rule_cb cb, void *ctx);
typedef void (*ezlb_nft_set_cb)(void *ctx, const char *set, uint32_t key_type, uint32_t key_len,
                                uint32_t data_type, uint32_t data_len, uint32_t flags);
int ezlb_nft_list_sets(struct ezlb_nft *n, uint16_t family, const char *table, ezlb_nft_set_cb cb, void *ctx);
typedef void (*ezlb_nft_elem_cb)(void *ctx, const uint8_t *key, uint32_t key_len, const uint8_t *data, uint32_t data_len);
int ezlb_nft_list_elems(struct ezlb_nft *n, uint16_t family, const char *table, const char *set, ezlb_nft_elem_cb cb, void *ctx);

#endif
