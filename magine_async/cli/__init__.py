"""The ``magine-async`` command line (install the ``[cli]`` extra).

Sub-commands register themselves in :data:`COMMANDS`; run ``magine-async --help``.
"""

from ._main import main

__all__ = ["main"]
