#ifndef EZLB_MAIN_H
#define EZLB_MAIN_H
/* Process-level facts the Swift side cannot get on its own. */

/* The commit ezlb was built from (`git describe --always --dirty`), or "unknown". */
const char *ezlb_git_commit(void);

/* argc and argv as the kernel passed them (captured before main; the Swift runtime of a
 * static-stdlib binary reads them from /proc/self/cmdline, which a chroot or container may
 * lack). argc is 0 if they were not captured. */
int ezlb_argc(void);
char **ezlb_argv(void);
#endif
