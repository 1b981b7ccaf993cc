"""Entry point of the exchange log's flusher process (see :mod:`distillguard.gateway._log`)."""

import sys

from distillguard.gateway._log import flusher_main

if __name__ == "__main__":
    flusher_main(sys.argv[1], int(sys.argv[2]))
