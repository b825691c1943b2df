"""Load tests (locust): scenarios, their env-driven configuration, and the fixture that seeds them."""
