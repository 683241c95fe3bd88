@testable import EzlbRaft
import EzlbConfig
import XCTest

final class RoleMachineTests: XCTestCase {
    func testPlaceholder() {}
}
