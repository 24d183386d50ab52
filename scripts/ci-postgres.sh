# Sourced by .ci/run: a real PostgreSQL server for the tests that need one (Rasa's tracker store,
# the conversation log, the demo store). Installs Debian's package if missing, starts the cluster, creates a
# throwaway role and database, and exports BOT_TEST_POSTGRES_URL. Those tests skip without it.
# The password below is for this local, throwaway test database only.
ci_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "ci-postgres: installing PostgreSQL from Debian"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null || return 1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster "$version" main start 2>/dev/null || true  # already running is fine
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 || return 1
  runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -c \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'larkspur_ci') THEN
       CREATE ROLE larkspur_ci LOGIN PASSWORD 'larkspur-ci'; END IF; END \$\$;" || return 1
  runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'larkspur_test'" | grep -q 1 \
    || runuser -u postgres -- createdb -O larkspur_ci larkspur_test || return 1
  export BOT_TEST_POSTGRES_URL=postgresql://larkspur_ci:larkspur-ci@127.0.0.1:5432/larkspur_test
  # The demo store service's own database (tests/store/test_postgres.py), apart from the bot's.
  runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'larkspur_store_test'" | grep -q 1 \
    || runuser -u postgres -- createdb -O larkspur_ci larkspur_store_test || return 1
  export STORE_TEST_PG_URL=postgresql://larkspur_ci:larkspur-ci@127.0.0.1:5432/larkspur_store_test
  echo "ci-postgres: PostgreSQL $version ready; BOT_TEST_POSTGRES_URL is set"
}

if ! ci_postgres; then
  echo "ci-postgres: WARNING: no PostgreSQL server; the PostgreSQL variants of the tests will be SKIPPED" >&2
fi
