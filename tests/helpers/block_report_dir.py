"""A fault-injection plugin: once the start-up checks have passed, puts a file where the report dir goes,
as a disk that fills up or a folder whose permissions change during a long run would."""

from pathlib import Path


def pytest_collection_finish(session):
    Path(session.config.getoption("sseu_report_dir")).write_text("a file where the report dir should be")
