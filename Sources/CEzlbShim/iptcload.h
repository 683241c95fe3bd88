/* libip4tc / libip6tc, loaded at first use (iptcload.c). Private to CEzlbShim. */
#ifndef EZLB_IPTCLOAD_H
#define EZLB_IPTCLOAD_H

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>

/* The libiptc functions ezlb calls, one table per family. The entry and rule
 * pointers are `const void *`: struct ipt_entry for v4, struct ip6t_entry for v6. */
struct ezlb_iptc_ops {
    struct xtc_handle *(*init)(const char *table);
    void (*free)(struct xtc_handle *h);
    int (*commit)(struct xtc_handle *h);
    const char *(*strerror)(int err);
    int (*is_chain)(const char *chain, struct xtc_handle *h);
    int (*builtin)(const char *chain, struct xtc_handle *h);
    int (*create_chain)(const char *chain, struct xtc_handle *h);
    int (*flush_entries)(const char *chain, struct xtc_handle *h);
    int (*delete_chain)(const char *chain, struct xtc_handle *h);
    int (*delete_num_entry)(const char *chain, unsigned int num, struct xtc_handle *h);
    const void *(*first_rule)(const char *chain, struct xtc_handle *h);
    const void *(*next_rule)(const void *prev, struct xtc_handle *h);
    int (*append_entry)(const char *chain, const void *e, struct xtc_handle *h);
    int (*insert_entry)(const char *chain, const void *e, unsigned int num, struct xtc_handle *h);
    const char *(*get_target)(const void *e, struct xtc_handle *h);
};

/* The family's functions (v6 = 0: libip4tc, 1: libip6tc), loading the library on the
 * first call; NULL with errno = ELIBACC when it cannot be loaded (ezlb_iptc_load_error). */
const struct ezlb_iptc_ops *ezlb_iptc_load(int v6);

/* Why the family's library could not be loaded (dlerror text), or NULL. */
const char *ezlb_iptc_load_error(int v6);

/* The functions of a family whose library is loaded (any call that has a handle). */
const struct ezlb_iptc_ops *ezlb_iptc(int v6);

/* Copies libiptc's errno into ezlb's after a call: in the static release binary the
 * library runs on its own libc.so.6 (loaded with it), whose errno is a different variable. */
void ezlb_iptc_sync_errno(void);

#endif
