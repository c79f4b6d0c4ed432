# Vault policy of pos-session-broker: read merchant credentials and the broker's own audit key,
# nothing else (no list, no write, no metadata, no other mount). setup.sh writes it as policy
# "pos-session-broker", replacing "secret/" with the KV v2 mount in use (VAULT_KV_MOUNT).
#
# KV v2 reads go through the data/ prefix: the secret at merchants/0882819014 in mount "secret"
# is read at secret/data/merchants/0882819014.

# Merchant gateway credentials, one secret per terminal: { "username": "...", "password": "..." }.
path "secret/data/merchants/*" {
  capabilities = ["read"]
}

# The HMAC key of the audit trail (AUDIT_FINGERPRINT_KEY_REF): { "key": "<base64, >= 32 bytes>" }.
path "secret/data/broker/audit-fingerprint-key" {
  capabilities = ["read"]
}

# Token self-management. Vault's built-in "default" policy grants these already; they are repeated
# so that the broker keeps working on a role created with token_no_default_policy=true.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
