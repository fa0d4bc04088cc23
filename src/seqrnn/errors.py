"""Errors the command line turns into one line on stderr instead of a traceback."""


class SeqrnnError(Exception):
    """Bad usage or bad input the user can fix: `seqrnn: error: ...`, exit status 2."""

    exit_status = 2


class InvalidInputError(SeqrnnError, ValueError):
    """A bad value given to the library (texts, labels, a setting): a `ValueError`, as scikit-learn's
    conventions expect, and one line with exit status 2 on the command line."""


class InvalidInputTypeError(SeqrnnError, TypeError):
    """A value of the wrong type given to the library (a number where a text belongs): a `TypeError`,
    and one line with exit status 2 on the command line."""


class SeqrnnRuntimeError(SeqrnnError):
    """A failure while running valid work (a crashed training run, a full disk): exit status 1."""

    exit_status = 1


class Interrupted(SeqrnnError):
    """Training stopped by SIGINT or SIGTERM: exit status 128 + the signal's number (130, 143).

    `checkpoint` is where the state was saved (None when a second signal stopped it at once, or
    when training had not started: `before_training` then says what was being done)."""

    def __init__(self, signal_number: int, step: int, checkpoint, before_training: str | None = None):
        import signal

        self.signal_number, self.step, self.checkpoint = int(signal_number), step, checkpoint
        self.exit_status = 128 + self.signal_number
        name = signal.Signals(self.signal_number).name
        if before_training is not None:
            super().__init__(f"interrupted by {name} while {before_training}: nothing was trained yet")
            return
        where = f"the checkpoint is in {checkpoint}" if checkpoint is not None else "stopped at once, no new checkpoint"
        super().__init__(f"interrupted by {name} at step {step}; {where}")


class SeqrnnWarning(UserWarning):
    """Something the library tells its user (a note): a warning in Python, a `note: ...` line on the
    command line. Every note of seqrnn is one of these."""
