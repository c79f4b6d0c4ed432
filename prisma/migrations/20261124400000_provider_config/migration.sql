-- Payment providers besides Hyp: each terminal keeps its provider's own non-secret fields
-- (Payroc processing terminal id and Identity Service, Reporting API accounts, wallet ids and
-- parent system id). Validated per provider by the service; API keys, signing keys and auth
-- tokens stay in the secret store under credential_ref.
ALTER TABLE "terminal" ADD COLUMN "provider_config" JSONB NOT NULL DEFAULT '{}';
ALTER TABLE "terminal" ADD CONSTRAINT "terminal_provider_config_is_object" CHECK (jsonb_typeof("provider_config") = 'object');
