"""The fault-injection suite's parts: a throwaway PostgreSQL cluster, the
processes under test, the audit of every task id, and the scenarios."""

import sys
from pathlib import Path

# The suite shares helpers with the tests (tests/support/): make the project importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
