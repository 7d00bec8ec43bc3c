"""Children that a test interrupts with SIGINT must start with SIGINT's default action.

A test run launched in the background by a non-interactive shell (`make test &`) inherits SIGINT
ignored, and an ignored signal stays ignored across exec: the child would never see the Ctrl-C the
test sends. Pass `preexec_fn=default_sigint` to such a child.
"""

from __future__ import annotations

import signal


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
