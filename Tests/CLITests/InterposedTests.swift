import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Black-box checks that need to see or bend what the binary asks of libc: a tiny shared
/// library (built here with the toolchain's clang) is preloaded into the debug `ezlb`.
final class InterposedTests: CLITestCase {
    /// Compiles `source` into a shared library in the work dir.
    func preload(_ name: String, _ source: String) throws -> String {
        let c = workDir + "/\(name).c", so = workDir + "/\(name).so"
        try source.write(toFile: c, atomically: true, encoding: .utf8)
        let cc = try command(["clang", "-shared", "-fPIC", "-O1", "-o", so, c, "-ldl"])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        return so
    }

    /// Defect: caches keyed on file metadata. On a filesystem with coarse timestamps (Linux
    /// before 6.13: the timer tick) a same-size rewrite within one tick keeps inode, size, mtime
    /// and ctime. This preload makes every `stat` of a `.yaml` file report the same metadata,
    /// whatever happened to it: the second apply must still see the edited config.
    func testAnEditThatKeepsTheFilesMetadataIsSeen() throws {
        let so = try preload("coarse", #"""
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <string.h>
        #include <sys/stat.h>
        static void fix(const char *p, struct stat *st) {
            size_t n = strlen(p);
            if (n > 5 && !strcmp(p + n - 5, ".yaml")) {
                st->st_ino = 4242; st->st_size = 4096;
                st->st_mtim.tv_sec = st->st_ctim.tv_sec = 1700000000;
                st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = 4000000;
            }
        }
        int stat(const char *p, struct stat *st) {
            int (*real)(const char *, struct stat *) = dlsym(RTLD_NEXT, "stat");
            int r = real(p, st);
            if (r == 0) fix(p, st);
            return r;
        }
        int lstat(const char *p, struct stat *st) {
            int (*real)(const char *, struct stat *) = dlsym(RTLD_NEXT, "lstat");
            int r = real(p, st);
            if (r == 0) fix(p, st);
            return r;
        }
        """#)
        let env = ["LD_PRELOAD": so]
        let cfg = writeConfig("services:\n  - {name: web, listen: 10.0.0.1:80, health_check: {enabled: false}, backends: [{address: 192.168.1.10:8080, weight: 3}]}\n")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg], env: env).status, 0)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"], env: env).changed, false)
        // Same size, other weight.
        try "services:\n  - {name: web, listen: 10.0.0.1:80, health_check: {enabled: false}, backends: [{address: 192.168.1.10:8080, weight: 4}]}\n"
            .write(toFile: cfg, atomically: false, encoding: .utf8)
        let r = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"], env: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.actionTexts, ["~ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 weight 3 -> 4"], r.stdout)
        XCTAssertEqual(try fakeTable().first?.destinations.first?.weight, 4)
    }

    /// Defect: allocator tuning for one-shot runs over big tables reached the long-lived
    /// `raft serve` too. The preload logs every mallopt call.
    func testOnlyBatchCommandsTuneTheAllocator() throws {
        let log = workDir + "/mallopt.log"
        let so = try preload("mallopt", #"""
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <stdio.h>
        #include <stdlib.h>
        int mallopt(int param, int value) {
            const char *path = getenv("MALLOPT_LOG");
            FILE *f = path ? fopen(path, "a") : NULL;
            if (f) { fprintf(f, "%d %d\n", param, value); fclose(f); }
            int (*real)(int, int) = dlsym(RTLD_NEXT, "mallopt");
            return real(param, value);
        }
        """#)
        let env = ["LD_PRELOAD": so, "MALLOPT_LOG": log]
        func calls() -> Int {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        let cfg = writeConfig("services:\n  - {name: web, listen: 10.0.0.1:80, health_check: {enabled: false}, backends: [{address: 192.168.1.10:8080}]}\n")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg], env: env).status, 0)
        XCTAssertGreaterThan(calls(), 0, "ipvs apply tunes the allocator")
        try? FileManager.default.removeItem(atPath: log)

        // raft serve: start it, let it elect itself, stop it.
        let dataDir = workDir + "/raft"
        let addr = "127.0.0.1:\(Int.random(in: 30000...50000))"
        let raftCfg = writeConfig("""
        node: {id: n1, raft_addr: "\(addr)", data_dir: "\(dataDir)"}
        cluster:
          nodes:
            - {id: n1, addr: "\(addr)"}
        """, name: "raft.yaml")
        let p = makeProcess(["raft", "serve", "--bootstrap", "-c", raftCfg], env: env)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !FileManager.default.fileExists(atPath: dataDir + "/control.sock") { usleep(50_000) }
        usleep(300_000)
        XCTAssertTrue(p.isRunning)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(calls(), 0, "raft serve must keep glibc's default allocator settings")
    }
}
