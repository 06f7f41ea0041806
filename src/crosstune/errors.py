"""The one exception type users see: a problem with their input, said in one line with a fix."""


class CrosstuneError(Exception):
    """Bad input or environment; the CLI prints it as one line and exits with code 2."""
