from slaprobe.cli import main

raise SystemExit(main())
