"""The floor's load: each user sends two POSTs per iteration, as a reception terminal does per verification."""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class FloorUser(FastHttpUser):
    """Two POSTs to the bare app, back to back, as fast as the answers come."""

    wait_time = constant(0)

    @task
    def pair(self) -> None:
        """What a verification costs the HTTP layer: two small JSON POSTs."""
        for name in ("POST /floor (challenge)", "POST /floor (verify)"):
            self.client.post("/floor", json={"purpose": "verify"}, name=name)
