#!/bin/sh
# One-time (and re-runnable) Vault setup for pos-session-broker, with the vault CLI and an admin
# token. It enables KV v2, writes the broker's policy, creates the broker's audit key if missing,
# and configures AppRole and (when K8S_HOST is set) Kubernetes auth bound to that policy. POSIX sh
# (runs in the hashicorp/vault image too); needs vault, sed, grep, head, base64, tr.
#
#   export VAULT_ADDR=https://vault.internal:8200 VAULT_TOKEN=<admin token>
#   ./docker/vault/setup.sh                                  # KV, policy, audit key, AppRole
#   K8S_HOST=https://kubernetes.default.svc ./docker/vault/setup.sh   # ... and Kubernetes auth
#
# Merchant credentials are written separately, one secret per terminal (password from stdin, so it
# stays out of the shell history and the process list):
#
#   vault kv put -mount=secret merchants/0882819014 username=merchant-a password=-
#
# Settings (environment):
#   KV_MOUNT             KV v2 mount path (VAULT_KV_MOUNT of the broker)          default: secret
#   POLICY_NAME / ROLE   policy and role name                                     default: pos-session-broker
#   TOKEN_TTL            TTL of the broker's tokens (renewed by the broker)       default: 1h
#   TOKEN_MAX_TTL        after this the broker logs in again                      default: 24h
#   SECRET_ID_FILE       where the AppRole secret_id is written (mode 600)        default: ./pos-session-broker.secret-id
#   ROLE_ID_FILE         also write the role_id to this file (for VAULT_APPROLE_ROLE_ID_FILE); unset: printed only
#   MERCHANT_TERMINAL, MERCHANT_USERNAME, MERCHANT_PASSWORD_FILE
#                        optionally write one merchant's credentials (development stacks)
#   K8S_HOST             Kubernetes API URL; unset: Kubernetes auth is skipped
#   K8S_CA_CERT_FILE     PEM of the Kubernetes API CA (not needed when Vault runs in the cluster)
#   K8S_NAMESPACE        namespace of the broker's pods                           default: pos-session-broker
#   K8S_SERVICE_ACCOUNT  service account of the broker's pods                     default: pos-session-broker
#   K8S_AUDIENCE         audience the service-account JWT must carry (projected tokens); unset: not checked
set -eu
# pipefail where the shell has it (bash, busybox ash), so a failing producer in a pipe is not hidden.
(set -o pipefail) 2>/dev/null && set -o pipefail

: "${VAULT_ADDR:?set VAULT_ADDR}"
KV_MOUNT="${KV_MOUNT:-secret}"
POLICY_NAME="${POLICY_NAME:-pos-session-broker}"
ROLE="${ROLE:-pos-session-broker}"
TOKEN_TTL="${TOKEN_TTL:-1h}"
TOKEN_MAX_TTL="${TOKEN_MAX_TTL:-24h}"
SECRET_ID_FILE="${SECRET_ID_FILE:-./pos-session-broker.secret-id}"
K8S_NAMESPACE="${K8S_NAMESPACE:-pos-session-broker}"
K8S_SERVICE_ACCOUNT="${K8S_SERVICE_ACCOUNT:-pos-session-broker}"
HERE="$(cd "$(dirname "$0")" && pwd)"

step() { printf '==> %s\n' "$*"; }

# 1. KV version 2 at $KV_MOUNT.
if vault secrets list -format=json | grep -q "\"${KV_MOUNT}/\""; then
  step "secrets engine at ${KV_MOUNT}/ exists (it must be KV version 2)"
else
  step "enabling KV v2 at ${KV_MOUNT}/"
  vault secrets enable -path="${KV_MOUNT}" -version=2 kv
fi

# 2. The policy, with the mount substituted.
step "writing policy ${POLICY_NAME}"
sed "s#\"secret/data/#\"${KV_MOUNT}/data/#g" "${HERE}/broker-policy.hcl" | vault policy write "${POLICY_NAME}" -

# 3. The audit HMAC key: created once, never replaced (fingerprints, idempotency records and audit
#    seals depend on it).
if vault kv get -mount="${KV_MOUNT}" broker/audit-fingerprint-key >/dev/null 2>&1; then
  step "audit key ${KV_MOUNT}/broker/audit-fingerprint-key exists (kept)"
else
  step "creating the audit key ${KV_MOUNT}/broker/audit-fingerprint-key"
  head -c 32 /dev/urandom | base64 | tr -d '\n' | vault kv put -mount="${KV_MOUNT}" broker/audit-fingerprint-key key=- >/dev/null
fi

# 4. AppRole: a role bound to the policy; the broker renews its token and logs in again at max TTL.
if ! vault auth list -format=json | grep -q '"approle/"'; then
  step "enabling AppRole auth"
  vault auth enable approle
fi
step "writing AppRole role ${ROLE}"
vault write "auth/approle/role/${ROLE}" \
  token_policies="${POLICY_NAME}" token_ttl="${TOKEN_TTL}" token_max_ttl="${TOKEN_MAX_TTL}" \
  token_type=service secret_id_num_uses=0 secret_id_ttl=0 >/dev/null
ROLE_ID="$(vault read -field=role_id "auth/approle/role/${ROLE}/role-id")"
step "AppRole role_id (not secret on its own): ${ROLE_ID}"
if [ -n "${ROLE_ID_FILE:-}" ]; then
  printf '%s' "${ROLE_ID}" > "${ROLE_ID_FILE}"
  step "role_id written to ${ROLE_ID_FILE}"
fi
if [ -s "${SECRET_ID_FILE}" ]; then
  step "${SECRET_ID_FILE} exists: no new secret_id issued"
else
  (umask 077 && vault write -f -field=secret_id "auth/approle/role/${ROLE}/secret-id" > "${SECRET_ID_FILE}")
  step "secret_id written to ${SECRET_ID_FILE} (mode 600); hand it to the broker as VAULT_APPROLE_SECRET_ID_FILE"
fi

# 5. Kubernetes auth, when the cluster is known.
if [ -n "${K8S_HOST:-}" ]; then
  if ! vault auth list -format=json | grep -q '"kubernetes/"'; then
    step "enabling Kubernetes auth"
    vault auth enable kubernetes
  fi
  step "configuring Kubernetes auth for ${K8S_HOST}"
  if [ -n "${K8S_CA_CERT_FILE:-}" ]; then
    vault write auth/kubernetes/config kubernetes_host="${K8S_HOST}" kubernetes_ca_cert=@"${K8S_CA_CERT_FILE}" >/dev/null
  else
    vault write auth/kubernetes/config kubernetes_host="${K8S_HOST}" >/dev/null
  fi
  step "writing Kubernetes role ${ROLE} (${K8S_NAMESPACE}/${K8S_SERVICE_ACCOUNT})"
  vault write "auth/kubernetes/role/${ROLE}" \
    bound_service_account_names="${K8S_SERVICE_ACCOUNT}" bound_service_account_namespaces="${K8S_NAMESPACE}" \
    ${K8S_AUDIENCE:+audience="${K8S_AUDIENCE}"} \
    token_policies="${POLICY_NAME}" token_ttl="${TOKEN_TTL}" token_max_ttl="${TOKEN_MAX_TTL}" token_type=service >/dev/null
fi

# 6. Optionally one merchant (development stacks); the password goes through stdin, never argv.
if [ -n "${MERCHANT_TERMINAL:-}" ] && [ -n "${MERCHANT_USERNAME:-}" ] && [ -n "${MERCHANT_PASSWORD_FILE:-}" ]; then
  step "writing ${KV_MOUNT}/merchants/${MERCHANT_TERMINAL}"
  tr -d '\n' < "${MERCHANT_PASSWORD_FILE}" | vault kv put -mount="${KV_MOUNT}" "merchants/${MERCHANT_TERMINAL}" username="${MERCHANT_USERNAME}" password=- >/dev/null
fi

cat <<DONE

Broker settings:
  SECRETS_PROVIDER=vault
  VAULT_ADDR=${VAULT_ADDR}
  VAULT_KV_MOUNT=${KV_MOUNT}
  # AppRole
  VAULT_AUTH_METHOD=approle
  VAULT_APPROLE_ROLE_ID=${ROLE_ID}
  VAULT_APPROLE_SECRET_ID_FILE=/run/secrets/vault-secret-id
  # or Kubernetes
  VAULT_AUTH_METHOD=kubernetes
  VAULT_KUBERNETES_ROLE=${ROLE}

Then, per terminal:
  vault kv put -mount=${KV_MOUNT} merchants/<terminalNumber> username=<merchant user> password=-
  npm run cli -- terminal:add --number <terminalNumber> --label <label> --credential-ref merchants/<terminalNumber>
DONE
