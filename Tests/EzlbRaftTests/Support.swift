import EzlbConfig
@testable import EzlbRaft
import Foundation
import Logging
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Captures log records (thread-safe) so tests can assert what the hooks printed.
final class LogCapture: @unchecked Sendable {
    struct Record {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
        var time = Date()
    }
    private let lock = NSLock()
    private var _records: [Record] = []

    var records: [Record] { lock.withLock { _records } }
    func append(_ r: Record) { lock.withLock { _records.append(r) } }

    var logger: Logger {
        var l = Logger(label: "test") { _ in CaptureHandler(capture: self) }
        l.logLevel = .trace
        return l
    }

    /// Lines a hook printed (message of records with a `stream` key).
    func lines(_ stream: String? = nil, event: String? = nil) -> [String] {
        records.filter {
            guard let s = $0.metadata["stream"] else { return false }
            if let stream, "\(s)" != stream { return false }
            if let event, "\($0.metadata["event"] ?? "")" != event { return false }
            return true
        }.map(\.message)
    }

    /// `event:status` of every finished hook, in order.
    var done: [String] {
        records.filter { $0.message == "hook done" }.map { "\($0.metadata["event"] ?? ""):\($0.metadata["status"] ?? "")" }
    }
}

struct CaptureHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        capture.append(.init(level: event.level, message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }
}

/// A temporary directory with helpers to write hook scripts.
final class ScratchDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "ezlb-raft-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func script(_ name: String, _ body: String) throws -> String {
        let p = path + "/" + name
        try ("#!/bin/sh\n" + body + "\n").write(toFile: p, atomically: true, encoding: .utf8)
        chmod(p, 0o755)
        return p
    }

    func file(_ name: String) -> String { path + "/" + name }

    func read(_ name: String) -> String { (try? String(contentsOfFile: file(name), encoding: .utf8)) ?? "" }
}

/// True while `pid` is a live (not zombie) process.
func processAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Polls `cond` for up to `seconds`.
func eventually(_ seconds: Double = 10, _ cond: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if cond() { return true }
        usleep(10_000)
    }
    return cond()
}
