#include "ezlb_version.h"

/* Set by scripts/build-release (EZLB_GIT_COMMIT in the environment of `swift build`, Package.swift);
 * a plain `swift build` says "unknown". */
#ifndef EZLB_GIT_COMMIT
#define EZLB_GIT_COMMIT "unknown"
#endif

const char *ezlb_git_commit(void) { return EZLB_GIT_COMMIT; }
