import EzlbCore
import Foundation
import XCTest

final class JSONReadingTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue { try JSONValue.parse(Array(s.utf8)) }

    func testValues() throws {
        XCTAssertEqual(try parse(" null "), .null)
        XCTAssertEqual(try parse("true"), .bool(true))
        XCTAssertEqual(try parse("false"), .bool(false))
        XCTAssertEqual(try parse("0"), .int(0))
        XCTAssertEqual(try parse("-42"), .int(-42))
        XCTAssertEqual(try parse("9223372036854775807"), .int(Int.max))
        // Not an Int: kept as text and written back unchanged.
        XCTAssertEqual(try parse("9223372036854775808"), .raw("9223372036854775808"))
        XCTAssertEqual(try parse("1.5e-3"), .raw("1.5e-3"))
        XCTAssertEqual(try parse("-0.25"), .raw("-0.25"))
        XCTAssertEqual(try parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try parse(#""\u00e9\u4e2d\ud83d\ude00""#), .string("é中😀"))
        XCTAssertEqual(try parse("\"中文\""), .string("中文"))
        XCTAssertEqual(try parse(#"{"b":[1,{"c":null}],"a":{}, "d" : [ ] }"#),
                       .object(["a": .object([:]), "b": .array([.int(1), .object(["c": .null])]), "d": .array([])]))
    }

    func testRejects() {
        let bad: [(String, String)] = [
            ("", "unexpected end of data"),
            ("{", "expected a string key"),
            ("[1,]", "unexpected character"),
            ("[1 2]", "expected ',' or ']'"),
            (#"{"a":1,}"#, "expected a string key"),
            (#"{"a" 1}"#, "expected ':'"),
            (#"{"a":1,"a":2}"#, "duplicate key \"a\""),
            ("01", "unexpected data after the value"),
            ("-", "unexpected end of data"),
            ("1.", "expected a digit"),
            ("1e", "expected a digit"),
            ("tru", "unexpected end of data"),
            ("nul!", "unexpected character"),
            ("\"abc", "unterminated string"),
            ("\"a\u{1}b\"", "control character in a string"),
            (#""\x""#, "invalid escape"),
            (#""\u12g4""#, #"invalid \u escape"#),
            (#""\ud800""#, "unpaired surrogate"),
            (#""\udc00""#, "unpaired surrogate"),
            ("{} {}", "unexpected data after the value"),
            ("'a'", "unexpected character"),
        ]
        for (text, reason) in bad {
            XCTAssertThrowsError(try parse(text), text) { e in
                XCTAssertEqual((e as? JSONValue.ParseError)?.reason, reason, text)
            }
        }
        XCTAssertThrowsError(try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22])) { e in
            XCTAssertEqual((e as? JSONValue.ParseError)?.reason, "invalid UTF-8 in a string")
        }
    }

    func testDepthIsBoundedNotAStackOverflow() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try parse(deep)) { e in
            XCTAssertEqual((e as? JSONValue.ParseError)?.reason, "nested more than 128 levels")
        }
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        XCTAssertNoThrow(try parse(ok))
    }

    /// Whatever Foundation's JSONSerialization reads, this reads to the same value, and
    /// `prettyText` reads back to the value it came from.
    func testAgreesWithFoundationAndRoundTrips() throws {
        let docs = [
            #"{"schema":1,"kind":"ipam","data":{"subnets":[{"subnet":"10.0.0.0\/24","allocations":[{"ip":"10.0.0.2","owner":"c\"1\\","allocated_at":"2026-11-21T05:40:00Z"}]}]}}"#,
            #"[true,false,null,-7,"\u0001\t",{"":""},[[]]]"#,
        ]
        for d in docs {
            let v = try parse(d)
            let f = try JSONSerialization.jsonObject(with: Data(d.utf8), options: [.fragmentsAllowed])
            XCTAssertEqual(Self.foundation(v) as? NSObject, f as? NSObject, d)
            XCTAssertEqual(try parse(v.prettyText), v)
            XCTAssertEqual(try parse(v.text), v)
        }
    }

    func testPrettyTextLayout() {
        let v = JSONValue.object(["b": .array([.int(1), .object([:])]), "a": .string("x/y"), "c": .array([])])
        XCTAssertEqual(v.prettyText, """
        {
          "a" : "x/y",
          "b" : [
            1,
            {}
          ],
          "c" : []
        }

        """)
    }

    func testShapeErrorsNameThePath() throws {
        let v = try parse(#"{"a":{"n":"x"}}"#)
        let o = try v.object(at: "")
        let a = try o.required("a", at: "").object(at: "a")
        XCTAssertThrowsError(try a.required("missing", at: "a")) { e in
            XCTAssertEqual("\(e)", "missing key a.missing")
        }
        XCTAssertThrowsError(try a.required("n", at: "a").int(at: "a.n")) { e in
            XCTAssertEqual("\(e)", "wrong type at a.n")
        }
        XCTAssertNil(try parse(#"{"k":null}"#).object(at: "").optional("k"))
    }

    static func foundation(_ v: JSONValue) -> Any {
        switch v {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .string(let s): return s
        case .raw(let r): return Double(r)!
        case .array(let a): return a.map(foundation)
        case .object(let o): return o.mapValues(foundation)
        }
    }
}
