#!/usr/bin/env bash
# `npm run env:init` (or `bash ops/init-env.sh`): writes .env for docker-compose ONCE, from .env.example,
# with production values and freshly generated secrets (JWT_SECRET, ENCRYPTION_KEY, CREDENTIALS_KEYS,
# METRICS_TOKEN, both database passwords). It refuses to touch an existing .env: a new ENCRYPTION_KEY or
# CREDENTIALS_KEYS would make the audit trail's personal data and the stored webhook, integration and
# MFA secrets unreadable. Back the file up to your secret store (docs/OPERATIONS.md, "Backups").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -e .env ]; then
  echo ".env exists: its secrets are kept, never regenerated (edit it by hand to change a setting)" >&2
  exit 1
fi
umask 077
b64() { openssl rand -base64 "$1" | tr -d '\n'; }
hex() { openssl rand -hex "$1"; }
owner_password=$(hex 24)
sed -e "s|^NODE_ENV=.*|NODE_ENV=production|" \
  -e "s|^DATABASE_URL=.*|DATABASE_URL=postgres://crm_owner:${owner_password}@postgres:5432/crm|" \
  -e "s|^REDIS_URL=.*|REDIS_URL=redis://redis:6379|" \
  -e "s|^JWT_SECRET=.*|JWT_SECRET=$(b64 48)|" \
  -e "s|^ENCRYPTION_KEY=.*|ENCRYPTION_KEY=$(b64 32)|" \
  -e "s|^# CREDENTIALS_KEYS=.*|CREDENTIALS_KEYS=k1:$(b64 32)|" \
  -e "s|^# METRICS_TOKEN=.*|METRICS_TOKEN=$(hex 24)|" \
  -e "s|^TRUST_PROXY=.*|TRUST_PROXY=172.16.0.0/12                    # the compose network, where the proxy is|" \
  .env.example > .env
cat >> .env <<EOT

# docker-compose only: the PostgreSQL container's passwords (DATABASE_URL above uses CRM_OWNER_PASSWORD).
POSTGRES_PASSWORD=$(hex 24)
CRM_OWNER_PASSWORD=${owner_password}
EOT
echo "wrote .env with new secrets: copy it to your secret store now"
