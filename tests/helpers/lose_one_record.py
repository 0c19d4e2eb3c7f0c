"""A fault-injection plugin: drops the metric record of one case, as a broken transport would."""

import pytest

VICTIM = "oracle-ASC-snr_0-independent"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if item.name == VICTIM and call.when == "call":
        report.user_properties = [p for p in report.user_properties if p[0] != "sseu_record"]
