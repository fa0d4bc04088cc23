from seqrnn.cli.main import main

raise SystemExit(main())
