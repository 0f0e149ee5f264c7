"""The fuzz suite's Hypothesis profile: reproducible (derandomized, no example database), a few examples
per test and no deadline (a model call may take a while on a busy machine), so the whole folder runs in
well under a minute."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.support.fuzz import PROFILE

settings.register_profile(PROFILE, derandomize=True, database=None, max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
