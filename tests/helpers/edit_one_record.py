"""A fault-injection plugin: changes the value of one case's record on its way to the controller, as a broken
transport would, so the record no longer agrees with the case's per-clip rows."""

import json

import pytest

VICTIM = "chance-ASC-snr_0-independent"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if item.name == VICTIM and call.when == "call":
        edited = []
        for name, value in report.user_properties:
            if name == "sseu_record":
                data = json.loads(value)
                data["value"] = data["run_values"][0] = data["value"] + 7.0
                value = json.dumps(data)
            edited.append((name, value))
        report.user_properties = edited
