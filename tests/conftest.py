"""Suite-wide rules of the test run."""

import os

import pytest
from hypothesis import settings

# The property tests draw the same examples on every run (a seed per test, from its name), so
# that a CI run is reproducible: an example that breaks a rule fails every run, not one run in
# many. Exploring further is a deliberate act: HYPOTHESIS_PROFILE=explore make test.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is a failure: `make install` installs every documented dependency, so a
    skip can only mean a missing install step (or a test that silently stopped running)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (f"this suite allows no skipped test (every dependency is installed "
                           f"by `make install`): {report.longrepr}")
