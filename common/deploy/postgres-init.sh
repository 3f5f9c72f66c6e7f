#!/usr/bin/env bash
# Postgres first-start initialisation for docker-compose.yml (mounted into the
# official image's /docker-entrypoint-initdb.d, so it runs once, on an empty
# data volume, against the entrypoint's socket-only temporary server).
#
# Broker and gateway get separate login roles and separate databases, and
# PUBLIC loses CONNECT/TEMP on both, so the gateway role cannot even connect to
# the database that holds the broker's ciphertext (and vice versa).
#
# The broker's database belongs to broker_owner, which only the one-shot
# broker-migrate container logs in as: it creates the tables and grants the
# runtime role `broker` what serving needs, which on the audit table is
# SELECT and INSERT. Not being the owner, `broker` cannot disable or drop the
# append-only trigger, nor update, delete or truncate audit records.
#
# Inputs (environment of the postgres container):
#   BROKER_OWNER_DB_PASSWORD, BROKER_DB_PASSWORD, GATEWAY_DB_PASSWORD
#       required, distinct, >= 16 chars of [A-Za-z0-9._~-] (they are placed
#       unescaped in postgres:// URLs).
#
# The image runs this file if it is executable and sources it otherwise, so it
# keeps its names inside one function and does not change shell options.

secutils_pg_init() {
  local name value
  for name in BROKER_OWNER_DB_PASSWORD BROKER_DB_PASSWORD GATEWAY_DB_PASSWORD; do
    value="${!name:-}"
    if [ -z "$value" ]; then
      secutils_pg_init_fail "$name is not set"
    elif [ "${#value}" -lt 16 ]; then
      secutils_pg_init_fail "$name is shorter than 16 characters"
    elif ! [[ "$value" =~ ^[A-Za-z0-9._~-]+$ ]]; then
      secutils_pg_init_fail "$name may contain only A-Z a-z 0-9 . _ ~ - (it is used inside a postgres:// URL)"
    fi
  done
  if [ "$BROKER_DB_PASSWORD" = "$GATEWAY_DB_PASSWORD" ] || [ "$BROKER_OWNER_DB_PASSWORD" = "$BROKER_DB_PASSWORD" ] \
    || [ "$BROKER_OWNER_DB_PASSWORD" = "$GATEWAY_DB_PASSWORD" ]; then
    secutils_pg_init_fail "BROKER_OWNER_DB_PASSWORD, BROKER_DB_PASSWORD and GATEWAY_DB_PASSWORD must differ"
  fi

  # Passwords reach psql through \getenv, never through argv or the SQL text
  # on disk; :'var' quotes them as SQL literals.
  psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
    --username "${POSTGRES_USER:-postgres}" --dbname postgres <<-'EOSQL' \
    || secutils_pg_init_fail "creating the roles and databases failed (see the psql error above)"
	\getenv owner_pw BROKER_OWNER_DB_PASSWORD
	\getenv broker_pw BROKER_DB_PASSWORD
	\getenv gateway_pw GATEWAY_DB_PASSWORD

	CREATE ROLE broker_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
	  PASSWORD :'owner_pw';
	CREATE ROLE broker LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
	  PASSWORD :'broker_pw';
	CREATE ROLE gateway LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
	  PASSWORD :'gateway_pw';

	CREATE DATABASE broker OWNER broker_owner;
	CREATE DATABASE gateway OWNER gateway;

	-- PUBLIC has CONNECT and TEMPORARY on every new database by default; only
	-- the owner (and superusers) keep access.
	REVOKE ALL ON DATABASE broker FROM PUBLIC;
	GRANT CONNECT ON DATABASE broker TO broker;
	REVOKE ALL ON DATABASE gateway FROM PUBLIC;
	-- Neither service has business in the maintenance database.
	REVOKE ALL ON DATABASE postgres FROM PUBLIC;
EOSQL
  printf 'secutils postgres-init: roles broker_owner, broker and gateway and databases broker and gateway created\n'
}

secutils_pg_init_fail() {
  printf 'secutils postgres-init: %s\n' "$1" >&2
  printf 'secutils postgres-init: the data volume is now only half initialised and will skip this script on the next start; fix the .env and recreate it: docker compose down -v\n' >&2
  exit 1
}

secutils_pg_init
