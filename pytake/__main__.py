import sys

from pytake.cli import main

sys.exit(main())
