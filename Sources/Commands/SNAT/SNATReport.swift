import EzlbCore
import EzlbPlanner

/// A plan's changes, shared by the report's actions (20,000 actions refer to one array
/// instead of each holding a copy of its change).
final class XTChangeList {
    let items: [XTChange]
    init(_ items: [XTChange]) { self.items = items }
}

/// One change of a plan as a report action, rendered only when the report is written.
/// It fits an existential's three-word inline buffer, so an action allocates nothing;
/// its sign is kept (summaries read it for every action without touching the change).
struct XTChangeAction: ReportAction {
    let list: XTChangeList
    let index: Int
    let sign: UInt8
    @discardableResult func appendText(to out: inout ByteText) -> Int { list.items[index].appendText(to: &out) }
    func appendJSON(to out: inout ByteText, done: Bool, error: String?, scratch: inout ByteText) {
        list.items[index].appendJSON(to: &out, done: done, error: error, scratch: &scratch)
    }
}

extension SNATSession {
    /// The report's actions for a plan's changes, all with the plan's outcome.
    func record(_ changes: [XTChange], error: String?, into report: inout CommandReport) {
        let list = XTChangeList(changes)
        report.actions.reserveCapacity(report.actions.count + changes.count)
        for i in changes.indices { report.actions.append(ActionRecord(XTChangeAction(list: list, index: i, sign: changes[i].sign), error: error)) }
    }
}
