"""What the tests and the benchmarks share: synthetic crawls and pages,
WARC writing, the misbehaving fake site, servers on 127.0.0.1, readers of
exports, and the search truth made apart from the package's own code.
Benchmarks import from here (tests/ on their path); nothing here imports a
benchmark."""
