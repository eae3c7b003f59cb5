"""`python -m nvarc_sidecar` starts the sidecar gRPC server."""

import sys

from nvarc_sidecar.server import main

sys.exit(main())
