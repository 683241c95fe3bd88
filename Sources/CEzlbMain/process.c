#include "ezlb_main.h"

/* Set by scripts/build-release (EZLB_GIT_COMMIT in the environment of `swift build`, Package.swift);
 * a plain `swift build` says "unknown". */
#ifndef EZLB_GIT_COMMIT
#define EZLB_GIT_COMMIT "unknown"
#endif

const char *ezlb_git_commit(void) { return EZLB_GIT_COMMIT; }

static int saved_argc;
static char **saved_argv;

/* glibc calls .init_array functions with (argc, argv, envp). */
__attribute__((constructor)) static void ezlb_capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

int ezlb_argc(void) { return saved_argc; }
char **ezlb_argv(void) { return saved_argv; }
