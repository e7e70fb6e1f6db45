#!/usr/bin/env bash
# Run once by the postgres image when it initialises an empty data directory, as its
# superuser: Convene's database and two roles without superuser rights.
#   DB_OWNER / DB_OWNER_PASSWORD     owns the database and its tables; migrations connect as it
#   DB_APP_USER / DB_APP_PASSWORD    the API and the workers: reads and writes rows, no DDL
#   DB_NAME                          the database
# The app role's timeouts are also set here, for sessions that do not set their own (psql,
# or the app behind PgBouncer with CONVENE_DATABASE_TIMEOUTS_FROM_ROLE=true).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
  --dbname "${POSTGRES_DB:-postgres}" \
  -v db="${DB_NAME:-convene}" \
  -v owner="${DB_OWNER:-convene_owner}" -v owner_password="${DB_OWNER_PASSWORD:?}" \
  -v app="${DB_APP_USER:-convene_app}" -v app_password="${DB_APP_PASSWORD:?}" <<'SQL'
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
ALTER ROLE :"app" IN DATABASE :"db" SET lock_timeout = '5s';
ALTER ROLE :"app" IN DATABASE :"db" SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE :"app" IN DATABASE :"db" SET statement_timeout = '15s';
ALTER ROLE :"owner" IN DATABASE :"db" SET lock_timeout = '10s';
\connect :"db"
-- btree_gist is a trusted extension, but creating it here needs no trust at all.
CREATE EXTENSION IF NOT EXISTS btree_gist;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
-- Whatever the owner's migrations create, the app may read and write, never alter or drop.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app";
SQL
