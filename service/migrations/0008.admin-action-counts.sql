-- Certificate actions taken with the admin command (`onshi-admin` / `python -m service.admin`). The command runs
-- in a process of its own, whose in-process counters die with it: it counts each action here, in the action's
-- own transaction (counted exactly when it commits), and the service exports these rows on /metrics as
-- onshi_admin_certificate_actions_total{action}. One row per action: no table scan per scrape.
CREATE TABLE admin_certificate_action_counts (
    action text PRIMARY KEY CHECK (action IN ('issue', 'suspend', 'release', 'revoke', 'renew')),
    count  bigint NOT NULL CHECK (count >= 0)
);
