"""The archive's errors, in one home below every layer, so that any module
can raise or catch them without importing the module that raises them.

Each job's command line turns its error into one line (bannedbook/cli.py).
"""


class BuildError(Exception):
    """A build that cannot be done at all (as opposed to a rejected file)."""


class Rejected(Exception):
    """A file that cannot become an article. `reason` is a short key the build
    summary counts by; the message tells a person what is wrong."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class CrawlError(Exception):
    """The crawl cannot run at all (locked folder, unreadable state)."""


class MissingDatabase(Exception):
    """The site was asked to serve a database file that is not there."""
