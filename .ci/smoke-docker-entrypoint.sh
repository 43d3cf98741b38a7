#!/usr/bin/env bash
# Runs what the Docker image runs, against the local PostgreSQL and Redis: the postgres init script
# (a non-superuser schema owner), then docker/entrypoint.sh (compiled migrate, then compiled server),
# checks /ready and /health, and stops it with SIGTERM expecting a clean exit.
set -euo pipefail
cd "$(dirname "$0")/.."

suffix="$$_$RANDOM"
db="crm_smoke_${suffix}"
owner="crm_smoke_owner_${suffix}"
# Ports the kernel says are free now (a random pick can meet an outbound connection's local port).
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
port=$(free_port)
export PGHOST=127.0.0.1 PGPORT=5432
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

cleanup() {
  if [ -n "${pid:-}" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  if [ -n "${worker_pid:-}" ]; then kill -9 "$worker_pid" 2>/dev/null || true; fi
  psql -q -U postgres -d postgres -v ON_ERROR_STOP=0 \
    -c "drop database if exists \"$db\" with (force)" \
    -c "drop role if exists \"${db}_app\"" -c "drop role if exists \"${db}_runtime\"" \
    -c "drop role if exists \"${db}_platform_login\"" -c "drop role if exists \"${db}_platform\"" \
    -c "drop role if exists \"${db}_jobs_login\"" -c "drop role if exists \"${db}_jobs\"" \
    -c "drop role if exists \"$owner\"" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The image refuses the public example passwords before touching the database.
if DATABASE_URL="postgres://crm_owner:crm-owner-change-me@127.0.0.1:5432/$db" docker/entrypoint.sh 2>/dev/null; then
  echo "smoke: the entrypoint accepted an example database password" >&2; exit 1
fi

createdb -U postgres "$db"
POSTGRES_USER=postgres POSTGRES_DB="$db" CRM_OWNER="$owner" CRM_OWNER_PASSWORD=smoke-password docker/postgres/init-owner.sh

NODE_ENV=production PORT=$port HOST=127.0.0.1 LOG_LEVEL=warn \
  DATABASE_URL="postgres://$owner:smoke-password@127.0.0.1:5432/$db" REDIS_URL="$REDIS_URL" \
  JWT_SECRET=smoke-test-secret-0123456789abcdef0123456789 \
  ENCRYPTION_KEY=c21va2UtdGVzdC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU= \
  docker/entrypoint.sh &
pid=$!

for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$port/ready" | grep -q '"ready"'
curl -fs "http://127.0.0.1:$port/health" | grep -q '"status":"healthy"'
curl -s "http://127.0.0.1:$port/api/v1/nope" | grep -q '"NOT_FOUND"'

# The compose file's optional worker service: the compiled job engine alone, on the migrated database.
worker_port=$(free_port)
NODE_ENV=production WORKER_PORT=$worker_port HOST=127.0.0.1 LOG_LEVEL=warn \
  DATABASE_URL="postgres://$owner:smoke-password@127.0.0.1:5432/$db" REDIS_URL="$REDIS_URL" \
  JWT_SECRET=smoke-test-secret-0123456789abcdef0123456789 \
  ENCRYPTION_KEY=c21va2UtdGVzdC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU= \
  node --enable-source-maps backend/dist/worker.js &
worker_pid=$!
for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$worker_port/health" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$worker_port/health" | grep -q '"healthy"'
curl -fs "http://127.0.0.1:$worker_port/metrics" | grep -q 'job_runs_total'

# The image's credential rotation is the compiled tool (no tsx in the image), with the API's environment.
NODE_ENV=production LOG_LEVEL=info \
  DATABASE_URL="postgres://$owner:smoke-password@127.0.0.1:5432/$db" \
  JWT_SECRET=smoke-test-secret-0123456789abcdef0123456789 \
  ENCRYPTION_KEY=c21va2UtdGVzdC1lbmNyeXB0aW9uLWtleS0zMmJ5dGU= \
  node --enable-source-maps backend/dist/cli/rotate-credentials.js | grep -q '"reencrypted":0'

kill -TERM "$pid" "$worker_pid"
status=0; wait "$pid" || status=$?
pid=
worker_status=0; wait "$worker_pid" || worker_status=$?
worker_pid=
if [ "$status" -ne 0 ]; then echo "smoke: server exited with $status after SIGTERM" >&2; exit 1; fi
if [ "$worker_status" -ne 0 ]; then echo "smoke: worker exited with $worker_status after SIGTERM" >&2; exit 1; fi
echo "smoke: docker entrypoint migrated, served and drained cleanly; the worker ran and stopped cleanly; the compiled credential rotation ran"
