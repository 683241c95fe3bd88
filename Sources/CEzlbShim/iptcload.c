/*
 * libip4tc and libip6tc through dlopen, at the first iptables operation.
 *
 * Why: the release binary is linked fully static (glibc included; scripts/build-release),
 * because under emulation (QEMU TCG) the dynamic loader alone was ~25 ms of every process
 * (docs/benchmarks.md, bench/xfrm-sync). Debian ships libiptc as shared objects only, so
 * the static binary cannot link it; it loads the system's libip4tc.so.2 / libip6tc.so.2
 * when a command first needs iptables (snat, bridge MASQUERADE). Commands that never touch
 * iptables never load it. Debug builds load it the same way (it is already mapped there),
 * so every build runs this code.
 *
 * In a static binary the library brings its own libc.so.6 (glibc's static dlopen), so
 * errno after a libiptc call is that libc's: ezlb_iptc_sync_errno copies it. libiptc's
 * allocations come from that libc's heap, which ezlb's heap prefault does not cover: a snat
 * sync of 20,003 rules without snat-kernel.cache (full verification through libiptc) is
 * ~12 ms slower natively than in a dynamic build. Tuning that heap (mmap/trim thresholds,
 * top pad) and populating it ahead of libiptc were measured and did not help
 * (docs/benchmarks.md, session 7).
 */
#include "iptcload.h"
#include "ezlb_xt.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#define EZLB_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define EZLB_MULTIARCH "aarch64-linux-gnu"
#else
#define EZLB_MULTIARCH "unknown-linux-gnu"
#endif

static struct ezlb_iptc_ops ops[2];
static int state[2];            /* 0 not tried, 1 loaded, -1 failed */
static char why[2][320];
static int *(*lib_errno)(void); /* __errno_location of the libc libiptc uses */
static pthread_once_t once[2] = { PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT };

static void load(int v6) {
    static const char *const names[2][2] = { { "libip4tc.so.2", "libip4tc.so" }, { "libip6tc.so.2", "libip6tc.so" } };
    /* The soname through the loader's cache and default directories first; then the
     * multiarch and lib64 directories by path, for hosts without an /etc/ld.so.cache. */
    static const char *const dirs[] = { "/usr/lib/" EZLB_MULTIARCH "/", "/lib/" EZLB_MULTIARCH "/", "/usr/lib64/", "/usr/lib/" };
    const char *prefix = v6 ? "ip6tc_" : "iptc_";
    char first[200] = "";
    void *h = NULL;
    for (int i = 0; i < 2 && !h; i++) {
        h = dlopen(names[v6][i], RTLD_NOW | RTLD_LOCAL);
        if (!h && i == 0) {
            const char *e = dlerror();
            snprintf(first, sizeof first, "%s", e ? e : "not found");
        }
    }
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0] && !h; d++) {
        char path[128];
        snprintf(path, sizeof path, "%s%s", dirs[d], names[v6][0]);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    if (!h) {
        snprintf(why[v6], sizeof why[v6], "cannot load %s (%s); it comes with iptables (Debian: libip%stc2)",
                 names[v6][0], first, v6 ? "6" : "4");
        state[v6] = -1;
        return;
    }
    struct { const char *name; void **slot; } fns[] = {
        { "init", (void **)&ops[v6].init }, { "free", (void **)&ops[v6].free },
        { "commit", (void **)&ops[v6].commit }, { "strerror", (void **)&ops[v6].strerror },
        { "is_chain", (void **)&ops[v6].is_chain }, { "builtin", (void **)&ops[v6].builtin },
        { "create_chain", (void **)&ops[v6].create_chain }, { "flush_entries", (void **)&ops[v6].flush_entries },
        { "delete_chain", (void **)&ops[v6].delete_chain }, { "delete_num_entry", (void **)&ops[v6].delete_num_entry },
        { "first_rule", (void **)&ops[v6].first_rule }, { "next_rule", (void **)&ops[v6].next_rule },
        { "append_entry", (void **)&ops[v6].append_entry }, { "insert_entry", (void **)&ops[v6].insert_entry },
        { "get_target", (void **)&ops[v6].get_target },
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        char sym[64];
        snprintf(sym, sizeof sym, "%s%s", prefix, fns[i].name);
        *fns[i].slot = dlsym(h, sym);
        if (!*fns[i].slot) {
            snprintf(why[v6], sizeof why[v6], "%s has no %s", names[v6][0], sym);
            state[v6] = -1;
            return;
        }
    }
    /* The libc the library was linked against: ezlb's own in a dynamic build, a second
     * copy (loaded with the library) in the static release binary. */
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (libc) {
        int *(*f)(void) = (int *(*)(void))dlsym(libc, "__errno_location");
        if (f && f() != &errno) __atomic_store_n(&lib_errno, f, __ATOMIC_RELEASE);
    }
    state[v6] = 1;
}

static void load4(void) { load(0); }
static void load6(void) { load(1); }

const struct ezlb_iptc_ops *ezlb_iptc_load(int v6) {
    v6 = v6 != 0;
    pthread_once(&once[v6], v6 ? load6 : load4);
    if (state[v6] != 1) { errno = ELIBACC; return NULL; }
    return &ops[v6];
}

const char *ezlb_iptc_load_error(int v6) {
    v6 = v6 != 0;
    return state[v6] == -1 ? why[v6] : NULL;
}

const struct ezlb_iptc_ops *ezlb_iptc(int v6) { return &ops[v6 != 0]; }

void ezlb_iptc_sync_errno(void) {
    int *(*f)(void) = __atomic_load_n(&lib_errno, __ATOMIC_ACQUIRE);
    if (f) errno = *f();
}
