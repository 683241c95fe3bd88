import EzlbCore
import EzlbPlanner

extension SNATSession {
    /// An action for the report; with `-o json`, its JSON object is rendered
    /// right away as text (20,000 rules would otherwise build as many dictionaries).
    func record(_ change: XTChange, error: String?) -> ActionRecord {
        guard opts.output == .json else { return ActionRecord(text: change.text, json: [:], error: error) }
        let r = change.rendered(done: !opts.dryRun && error == nil, error: error)
        var a = ActionRecord(text: r.text, json: [:], error: error)
        a.rawJSON = r.json
        return a
    }
}
