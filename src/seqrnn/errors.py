"""Errors the command line turns into one line on stderr instead of a traceback."""


class SeqrnnError(Exception):
    """Bad usage or bad input the user can fix: `seqrnn: error: ...`, exit status 2."""

    exit_status = 2


class SeqrnnRuntimeError(SeqrnnError):
    """A failure while running valid work (a crashed training run, a full disk): exit status 1."""

    exit_status = 1
