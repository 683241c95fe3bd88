import EzlbCore
import EzlbPlanner

extension XTChange: ReportAction {}

extension SNATSession {
    /// An action for the report, rendered (text or JSON) only when the report is written.
    func record(_ change: XTChange, error: String?) -> ActionRecord {
        ActionRecord(change, error: error)
    }
}
