import type { Config } from '../config/config.schema';

/** What /console/config.json tells the app about signing in; no secret is ever in it. */
export interface ConsoleSignIn {
  /** OpenID Connect authorization code flow with PKCE against the operator IdP, when a client id is set. */
  oidc: { authority: string; clientId: string; scopes: string; resource?: string } | null;
  /** The embedded mode's "Sign in (development)" (POST /console/dev-token). */
  development: boolean;
  /** The claim the API reads roles from, so the app can show what the operator may do. */
  rolesClaim: string;
}

export function consoleSignIn(c: Config): ConsoleSignIn {
  const authority = c.CONSOLE_OIDC_ISSUER ?? c.OPERATOR_JWT_ISSUER;
  return {
    oidc:
      c.CONSOLE_OIDC_CLIENT_ID && authority && /^https?:\/\//.test(authority)
        ? {
            authority,
            clientId: c.CONSOLE_OIDC_CLIENT_ID,
            scopes: c.CONSOLE_OIDC_SCOPES,
            ...(c.CONSOLE_OIDC_RESOURCE ? { resource: c.CONSOLE_OIDC_RESOURCE } : {}),
          }
        : null,
    development: c.CONSOLE_DEV_SIGN_IN,
    rolesClaim: c.OPERATOR_JWT_ROLES_CLAIM,
  };
}

/**
 * The console's Content-Security-Policy: scripts from the broker only (no inline script, no
 * eval), API calls to the broker and the IdP's origin, never framed, no base-URI
 * games, forms post to the broker only.
 */
export function consoleCsp(c: Config): Record<string, string[]> {
  const signIn = consoleSignIn(c);
  const idp = signIn.oidc ? [new URL(signIn.oidc.authority).origin] : [];
  return {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    // Style attributes only: React Aria and Recharts position overlays and charts with inline styles,
    // which cannot run code; scripts stay 'self' alone.
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:'],
    fontSrc: ["'self'"],
    connectSrc: ["'self'", ...idp],
    manifestSrc: ["'self'"],
    frameAncestors: ["'none'"],
    frameSrc: ["'none'"],
    formAction: ["'self'", ...idp],
    baseUri: ["'none'"],
    objectSrc: ["'none'"],
  };
}
