"""Property-based fuzzing of the loader (issue 12): see tests/kineto_fuzz.py. The 'ci'
profile (the default) keeps this under a minute; bench/fuzz.py runs the long one."""

from __future__ import annotations

import shutil
from collections import Counter

from hypothesis import HealthCheck, given, settings

from kineto_fuzz import check_document, documents, fresh_folder

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=20000,
    derandomize=True,
    database=None,  # no .hypothesis folder left in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OUTCOMES: Counter = Counter()


@settings(settings.get_profile("ci"))
@given(documents())
def test_every_document_loads_completely_or_is_refused_in_one_line(data):
    folder = fresh_folder()
    try:
        OUTCOMES[check_document(data, folder)] += 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)
