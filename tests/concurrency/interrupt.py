"""Start a child that takes Ctrl-C as an operator's terminal delivers it, in any shell.

A shell without job control (``cmd &`` in a script, CI runners, a background ``make test``)
starts its children with SIGINT ignored, and Python keeps an ignored SIGINT ignored: a
``send_signal(SIGINT)`` to such a child does nothing, and a Ctrl-C test would wait in vain.
The child below first installs Python's own handler (``KeyboardInterrupt``), the one it gets
when started from an interactive terminal, then runs the module as ``python -m`` would.
"""

from __future__ import annotations

RESTORE_SIGINT = (
    "import runpy, signal, sys; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = sys.argv[1:]; "
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def interruptible(command: list[str]) -> list[str]:
    """``[python, "-m", module, *args]`` as a command whose SIGINT raises KeyboardInterrupt."""
    python, flag, module, *args = command
    assert flag == "-m", command
    return [python, "-c", RESTORE_SIGINT, module, *args]
