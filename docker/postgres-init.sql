-- The login the service answers requests as (migration 0009 makes it without a password when it is missing;
-- over TCP with password authentication it needs one). Change the password with ONSHI_APP_DATABASE_URL.
CREATE ROLE onshi_app LOGIN PASSWORD 'onshi-app';
