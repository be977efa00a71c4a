"""Errors caused by what the user asked for. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """A bad option, file or run name; the message says what was wrong and how to fix it."""


def one_line(error: BaseException | str) -> str:
    """The message on one line: every run of whitespace (newlines included) becomes one space."""
    return " ".join(str(error).split())


class SearchStopped(Exception):
    """A search ended early on an error of its own (not a candidate's: those are failed candidates); its
    records are saved and `nas resume RUN` continues it. The CLI prints it as one line."""
