import Commands

@main
enum Main {
    static func main() {
        Ezlb.runMain()
    }
}
