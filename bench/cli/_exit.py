"""Exit codes of every command, and the one exception that means bad input."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input: reported as one line, exit 2."""
