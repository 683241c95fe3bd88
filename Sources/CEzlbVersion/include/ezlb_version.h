#ifndef EZLB_VERSION_H
#define EZLB_VERSION_H
/* The commit ezlb was built from (`git describe --always --dirty`), or "unknown". */
const char *ezlb_git_commit(void);
#endif
