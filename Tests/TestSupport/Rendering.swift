import EzlbCore
import XCTest

/// A report action as the report writes it: its text line and its JSON object, checked to be
/// one canonical JSON object (compact, keys sorted: parsing and writing it again gives the
/// same bytes) holding `done`, `error` and `text` as given.
public func rendered(_ a: any ReportAction, done: Bool, error: String?,
                     file: StaticString = #filePath, line: UInt = #line) throws -> (text: String, json: [String: JSONValue]) {
    var t = ByteText(), j = ByteText(), scratch = ByteText()
    a.appendText(to: &t)
    a.appendJSON(to: &j, done: done, error: error, scratch: &scratch)
    let parsed = try JSONValue.parse(j.bytes)
    XCTAssertEqual(parsed.text, j.string, "not canonical JSON", file: file, line: line)
    guard case .object(let o) = parsed else {
        XCTFail("not an object: \(j.string)", file: file, line: line)
        return (t.string, [:])
    }
    XCTAssertEqual(o["done"], .bool(done), file: file, line: line)
    XCTAssertEqual(o["error"], error.map { .string($0) }, file: file, line: line)
    XCTAssertEqual(o["text"], .string(t.string), file: file, line: line)
    XCTAssertEqual(a.sign, t.bytes.first, "the sign is the line's first byte", file: file, line: line)
    return (t.string, o)
}
