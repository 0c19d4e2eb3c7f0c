"""``python -m model_adapters.serve.openai_server``, as the docs and users' scripts name it: runs `model_server`."""

import sys

from model_server.openai_server import main

if __name__ == "__main__":
    sys.exit(main())
