// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ezlb",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "ezlb", targets: ["ezlb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // @main only. Release builds (scripts/build-release) link libstdc++ statically, export no
        // dynamic symbols and are not PIE (lld): process start-up dominates the per-operation
        // commands (docs/benchmarks.md, "Speed tricks"; docs/build.md on the non-PIE trade-off;
        // EZLB_PIE=1 in the environment of `swift build` links a PIE).
        .executableTarget(name: "ezlb", dependencies: ["Commands"], linkerSettings: [
            .unsafeFlags(["-L", Context.packageDirectory + "/link/static-libstdc++", "-Xlinker", "--no-export-dynamic", "-use-ld=lld"]
                         + (Context.environment["EZLB_PIE"] == "1" ? [] : ["-Xclang-linker", "-no-pie"]),
                         .when(platforms: [.linux], configuration: .release)),
        ]),

        // The CLI: ArgumentParser commands that parse, call a reconciler and render its report.
        .target(name: "Commands", dependencies: [
            "EzlbReconcile", "EzlbCore", "EzlbConfig", "EzlbPlanner", "EzlbState", "Kernel", "EzlbIPAM", "EzlbRaft", "CEzlbMain",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The reconcilers: config + state + kernel -> plan -> intent-first apply -> report, for
        // IPVS (with health checks), FullNAT, xfrm, bridges and IPAM. Tested in-process with the fakes.
        .target(name: "EzlbReconcile", dependencies: [
            "EzlbCore", "EzlbConfig", "EzlbPlanner", "EzlbState", "Kernel", "EzlbIPAM",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Every backend contract (IPVS, x_tables, xfrm, links, health probes) with its kernel
        // implementation and its fake side by side, the one factory (`Backends`) and the one
        // digest of kernel state (`StateDigest`).
        .target(name: "Kernel", dependencies: [
            "EzlbCore", "EzlbState", "CNetlink", "CNetlinkGenl", "CEzlbShim", "CNetlinkRoute", "CNetlinkXfrm",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Pure modules: no C imports.
        .target(name: "EzlbCore", dependencies: [
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .target(name: "EzlbConfig", dependencies: ["EzlbCore", "EzlbIPAM", "CYaml"], linkerSettings: [
            .unsafeFlags(["-L", Context.packageDirectory + "/link/static-libyaml"]),
        ]),
        // Pure planners; Crypto only for the IPsec key derivation (HKDF-SHA256).
        .target(name: "EzlbPlanner", dependencies: ["EzlbCore", .product(name: "Crypto", package: "swift-crypto")]),
        // IP address management: subnets, ranges, allocation (interval based, no per-address structures).
        .target(name: "EzlbIPAM", dependencies: ["EzlbCore"]),
        // Raft VIP failover: the engine contract and its libraft engine (CEzlbShim's raft.c drives
        // libraft + libuv), the server and control endpoint (Crypto: HMAC-SHA256), the role
        // machine, the hook dispatcher and executor.
        .target(name: "EzlbRaft", dependencies: [
            "EzlbConfig", "EzlbCore", "EzlbState", "CEzlbShim",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The state directory: state files, locks, the convergence cache.
        .target(name: "EzlbState", dependencies: [
            "EzlbCore", "EzlbIPAM",
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // One system-library target per pkg-config file, plus one C shim.
        .systemLibrary(name: "CNetlink", pkgConfig: "libnl-3.0",
                       providers: [.apt(["libnl-3-dev"])]),
        .systemLibrary(name: "CNetlinkGenl", pkgConfig: "libnl-genl-3.0",
                       providers: [.apt(["libnl-genl-3-dev"])]),
        .systemLibrary(name: "CNetlinkRoute", pkgConfig: "libnl-route-3.0",
                       providers: [.apt(["libnl-route-3-dev"])]),
        // libiptc (-lip4tc -lip6tc, shared: Debian ships no static archive).
        .systemLibrary(name: "CIPTC", pkgConfig: "libiptc",
                       providers: [.apt(["libiptc-dev"])]),
        .systemLibrary(name: "CNetlinkXfrm", pkgConfig: "libnl-xfrm-3.0",
                       providers: [.apt(["libnl-xfrm-3-dev"])]),
        // libyaml (libyaml-dev: <yaml.h>, libyaml.a), the event parser EzlbConfig drives, linked
        // statically (link/static-libyaml/). No pkg-config: its `-lyaml` would link libyaml.so.
        .systemLibrary(name: "CYaml"),
        .systemLibrary(name: "CRaft", pkgConfig: "raft",
                       providers: [.apt(["libraft-dev"])]),
        .systemLibrary(name: "CUV", pkgConfig: "libuv",
                       providers: [.apt(["libuv1-dev"])]),
        // libnftnl + libmnl: the nftables backend (nft.c). libnftnl is linked statically in release
        // builds (link/static-libs); Debian ships libmnl shared only (libmnl0, which iproute2 needs).
        .systemLibrary(name: "CNftnl", pkgConfig: "libnftnl",
                       providers: [.apt(["libnftnl-dev", "libmnl-dev"])]),
        // Process-level facts: the commit ezlb was built from (`ezlb --version`; scripts/build-release
        // sets EZLB_GIT_COMMIT, and only this small target rebuilds when it changes) and argv as
        // the kernel passed it (no /proc needed).
        .target(name: "CEzlbMain", cSettings: Context.environment["EZLB_GIT_COMMIT"].map {
            [.define("EZLB_GIT_COMMIT", to: "\"\($0)\"")]
        } ?? []),
        .target(name: "CEzlbShim", dependencies: ["CNetlink", "CNetlinkGenl", "CIPTC", "CRaft", "CUV", "CNftnl"],
                linkerSettings: [.linkedLibrary("nftnl"), .linkedLibrary("mnl")]),

        // Helpers shared by the test targets (not part of the product).
        .target(name: "TestSupport", dependencies: ["EzlbCore"], path: "Tests/TestSupport"),
        .testTarget(name: "EzlbCoreTests", dependencies: ["EzlbCore"]),
        .testTarget(name: "EzlbConfigTests", dependencies: ["EzlbConfig", "EzlbCore"]),
        .testTarget(name: "EzlbPlannerTests", dependencies: ["TestSupport", "EzlbPlanner", "EzlbCore"]),
        .testTarget(name: "EzlbIPAMTests", dependencies: ["TestSupport", "EzlbIPAM", "EzlbCore"]),
        .testTarget(name: "EzlbRaftTests", dependencies: [
            "TestSupport", "EzlbRaft", "EzlbConfig", "EzlbCore", "CEzlbShim", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EzlbStateTests", dependencies: ["EzlbState", "EzlbCore"]),
        .testTarget(name: "KernelTests", dependencies: ["Kernel", "EzlbCore", "EzlbState"]),
        .testTarget(name: "CommandsTests", dependencies: ["Commands", "EzlbReconcile", "Kernel", "EzlbCore", "EzlbIPAM"]),
        .testTarget(name: "EzlbReconcileTests", dependencies: [
            "TestSupport", "EzlbReconcile", "Kernel", "EzlbState", "EzlbCore", "EzlbPlanner", "EzlbConfig", "EzlbIPAM",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "CLITests", dependencies: ["ezlb", "Kernel", "EzlbRaft", "EzlbCore", "EzlbState"]),
    ]
)
