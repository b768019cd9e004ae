import sys

try:
    from slaprobe.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting up: quiet, like any other interrupt
    sys.exit(130)

raise SystemExit(main())
