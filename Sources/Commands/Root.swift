import ArgumentParser
public struct Ezlb: ParsableCommand {
    public init() {}
}
