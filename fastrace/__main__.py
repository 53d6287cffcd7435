import sys

from fastrace.cli import main

sys.exit(main())
