import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
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
 * The console's Content-Security-Policy: scripts and styles from the broker only (no inline
 * script, no eval, no 'unsafe-inline' styles), API calls to the broker and the IdP's origin, never
 * framed, no base-URI games, forms post to the broker only. `styleNonce` (see consoleStyleNonce)
 * admits the two <style> elements React Aria inserts itself, and nothing written in markup.
 */
export function consoleCsp(
  c: Config,
  styleNonce: (res: ServerResponse) => string,
): Record<string, Array<string | ((req: IncomingMessage, res: ServerResponse) => string)>> {
  const signIn = consoleSignIn(c);
  const idp = signIn.oidc ? [new URL(signIn.oidc.authority).origin] : [];
  return {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    // React and Recharts set inline styles through the CSSOM (element.style), which CSP does not
    // govern. React Aria also inserts <style> elements (touch-action on pressable elements; on iOS,
    // overscroll containment under a modal), carrying the nonce of the page's
    // <meta property="csp-nonce">: a fresh one per response of index.html.
    styleSrc: ["'self'", (_req, res) => `'nonce-${styleNonce(res)}'`],
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

/** The placeholder in console/index.html's <meta property="csp-nonce"> that each response fills in. */
export const STYLE_NONCE_PLACEHOLDER = 'CONSOLE_STYLE_NONCE';

/** One style nonce per response: 128 random bits, made when the CSP header is written. */
export function consoleStyleNonce(): (res: ServerResponse) => string {
  const nonces = new WeakMap<ServerResponse, string>();
  return (res) => {
    let nonce = nonces.get(res);
    if (!nonce) nonces.set(res, (nonce = randomBytes(16).toString('base64')));
    return nonce;
  };
}
