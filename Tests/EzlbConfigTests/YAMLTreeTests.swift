@testable import EzlbConfig
import XCTest

/// The flat YAML document and its value cursor: key paths, read tracking,
/// scalars, aliases, large mappings.
final class YAMLTreeTests: XCTestCase {
    func doc(_ text: String) throws -> YAMLCursor { try YAMLCursor.document(text, file: "t.yaml") }

    func testPathsOfPresentAndMissingNodes() throws {
        let root = try doc("a:\n  b: [x, {c: 1}]\ns: text\n")
        XCTAssertEqual(root["a"]["b"].path, "a.b")
        let items = try root["a"]["b"].items()
        XCTAssertEqual(items.map(\.path), ["a.b[0]", "a.b[1]"])
        XCTAssertEqual(items[1]["c"].path, "a.b[1].c")
        XCTAssertEqual(items[1]["nope"].path, "a.b[1].nope")
        XCTAssertEqual(root["x"]["y"]["z"].path, "x.y.z", "below a missing key")
        XCTAssertEqual(root["s"]["t"].path, "s.t", "below a scalar")
        XCTAssertTrue(root["x"]["y"].isNull)
        XCTAssertEqual(root["s"]["t"].error("bad").description, "t.yaml: s.t: bad")
        XCTAssertEqual(root["a"].mappingKeys, ["b"])
        XCTAssertEqual(root.mappingKeys, ["a", "s"])
        XCTAssertEqual(root["s"].mappingKeys, [])
    }

    func testScalarsNullsAndIntegers() throws {
        let root = try doc("""
        n1: ~
        n2: null
        n3:
        q: "null"
        e: ''
        i1: 007
        i2: +5
        i3: -3
        i4: 1.5
        i5: 99999999999999999999
        i6: 0x10
        b: Yes
        l: [1]
        """)
        for k in ["n1", "n2", "n3"] { XCTAssertTrue(root[k].isNull, k); XCTAssertTrue(root.has(k) == false, k) }
        XCTAssertEqual(try root["q"].string(), "null")
        XCTAssertFalse(root["e"].isNull)
        XCTAssertEqual(try root["e"].string(), "")
        XCTAssertThrowsError(try root["e"].requiredString())
        XCTAssertEqual(try root["i1"].int(in: 0...10), 7)
        XCTAssertEqual(try root["i2"].int(in: 0...10), 5)
        XCTAssertEqual(try root["i3"].int(in: -5...10), -3)
        for k in ["i4", "i5", "i6"] { XCTAssertThrowsError(try root[k].int(in: 0...Int64.max), k) }
        XCTAssertThrowsError(try root["i1"].int(in: 0...5)) { e in
            XCTAssertEqual((e as? ConfigError)?.description, "t.yaml: i1: '007': must be between 0 and 5")
        }
        XCTAssertEqual(try root["b"].bool(), true)
        XCTAssertThrowsError(try root["l"].int(in: 0...1)) { e in XCTAssertEqual((e as? ConfigError)?.value, "<list>") }
        if case .sequence? = root["l"].node {} else { XCTFail("a list") }
        if case .scalar(let s, let isNull)? = root["n2"].node { XCTAssertEqual(s, "null"); XCTAssertTrue(isNull) } else { XCTFail() }
        XCTAssertNil(root["absent"].node)
    }

    func testReadTrackingWithSubtreesAndAliases() throws {
        let root = try doc("""
        pool: &p {address: a, weight: 1, extra: 2}
        used:
          - *p
          - {address: b}
        skipped: {deep: {x: 1}}
        other: 1
        """)
        for item in try root["used"].items() { _ = item["address"]; _ = item["weight"] }
        root["skipped"].markSubtreeRead()
        // The alias is a copy: reading through it marks its own keys, not the anchor's.
        XCTAssertEqual(root.unreadKeys, ["pool", "used[0].extra", "other"])
        _ = root["pool"]
        XCTAssertEqual(root.unreadKeys, ["pool.address", "pool.weight", "pool.extra", "used[0].extra", "other"])
        XCTAssertEqual(root["used"].unreadKeys, ["used[0].extra"])
    }

    func testLargeMappingsLookupAndDuplicates() throws {
        let keys = (0..<200).map { "k\($0)" }
        let root = try doc("m:\n" + keys.map { "  \($0): v\($0)\n" }.joined())
        for k in keys { XCTAssertEqual(try root["m"][k].string(), "v\(k)") }
        XCTAssertTrue(root["m"]["k200"].isNull)
        XCTAssertEqual(root["m"].mappingKeys, keys)
        XCTAssertEqual(root.unreadKeys, [])
        let dup = "m:\n" + keys.map { "  \($0): 1\n" }.joined() + "  k150: 2\n"
        XCTAssertThrowsError(try doc(dup)) { e in
            XCTAssertTrue("\(e)".contains("duplicate key 'k150'"), "\(e)")
        }
        XCTAssertThrowsError(try doc("a: 1\nb: 2\na: 3\n")) { e in XCTAssertTrue("\(e)".contains("line 3"), "\(e)") }
    }

    func testAliasBombIsRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<9 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        XCTAssertThrowsError(try doc(text)) { e in
            XCTAssertTrue("\(e)".contains("too large"), "\(e)")
            XCTAssertTrue((e as? ConfigError)?.description.hasPrefix("t.yaml: line ") == true, "\(e)")
        }
    }

    func testEmptyAndNonMappingDocuments() throws {
        let empty = try doc("")
        XCTAssertTrue(empty.isNull)
        XCTAssertEqual(try empty["services"].items().count, 0)
        XCTAssertEqual(empty.unreadKeys, [])
        XCTAssertThrowsError(try doc("- a\n")) { e in XCTAssertTrue("\(e)".contains("top level must be a mapping"), "\(e)") }
        XCTAssertThrowsError(try doc("a: [1, 2\n")) { e in XCTAssertTrue("\(e)".contains("invalid YAML"), "\(e)") }
    }
}
