import sys

from sseu_harness.cli import main

sys.exit(main())
