"""Onshi load test: clinic reception terminals at peak hour, and an insurer uploading eligibility batches.

    python -m loadtests.fixtures --out loadtests/.fixture.json --cards 500 --terminals 50
    ONSHI_URL=http://127.0.0.1:8000 locust -f loadtests/locustfile.py --headless -u 100 -r 100 -t 30s

Settings come from the environment (loadtests/config.py); the scenarios live in loadtests/scenarios/.
`python3 dev.py run -m benchmarks.peak` runs the whole thing against a fresh service and prints the figures.
"""

from loadtests.scenarios import InsurerUploader, ReceptionTerminal, ViewerStaff

__all__ = ["InsurerUploader", "ReceptionTerminal", "ViewerStaff"]
