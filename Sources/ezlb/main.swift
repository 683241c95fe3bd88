import Commands

Ezlb.main()
