// A real OpenID provider (oidc-provider, a certified implementation) for the console's OIDC tests,
// run as its own process (the package is ES-module-only, which Jest's module runtime cannot load).
// argv: port, the broker's base URL, the resource (= the broker's operator audience).
// Accounts: whatever login the dev login page gets; roles by name (below). Prints {"issuer"} when up.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, brokerUrl, resource] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
/**
 * Roles by login: `*-auditor` auditor, `*-admin` admin, `*-both` both. Access tokens live 10 min,
 * except `short-*` and `renew-*`: 5 s. Every login but `short-*` also gets a refresh token (the
 * grant the console renews with); `short-*` tokens simply run out.
 */
const rolesOf = (id) => (id.endsWith('-both') ? ['admin', 'auditor'] : id.endsWith('-admin') ? ['admin'] : id.endsWith('-auditor') ? ['auditor'] : []);
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'pos-console',
      token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'ES256',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${brokerUrl}/console/callback`],
      post_logout_redirect_uris: [`${brokerUrl}/console/`],
    },
  ],
  jwks: { keys: [{ ...key, kid: 'idp-key-1', alg: 'ES256', use: 'sig' }] },
  cookies: { keys: ['console-test-cookie-key'] },
  scopes: ['openid', 'profile', 'broker'],
  claims: { openid: ['sub'], profile: ['name'] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, name: id }) }),
  clientBasedCORS: (_ctx, origin) => origin === new URL(brokerUrl).origin,
  extraTokenClaims: async (_ctx, token) => ({ roles: rolesOf(token.accountId) }),
  ttl: {
    AccessToken: (_ctx, token) => (/^(short|renew)-/.test(String(token.accountId)) ? 5 : 600),
    RefreshToken: 600,
    IdToken: 600,
    Grant: 600,
    Session: 600,
    Interaction: 600,
  },
  // Without offline_access (an IdP setting: Keycloak and others issue them to a browser client by default).
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && !String(code.accountId).startsWith('short-'),
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'broker', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
    },
  },
  pkce: { required: () => true },
});
provider.listen(Number(port), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ issuer })}\n`));
