import Commands
Ezlb.main()
