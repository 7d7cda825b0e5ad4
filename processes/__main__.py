import sys

from processes.cli import main

sys.exit(main())
