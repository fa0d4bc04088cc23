from seqrnn.cli import main

raise SystemExit(main())
