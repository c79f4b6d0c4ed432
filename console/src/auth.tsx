import { InMemoryWebStorage, UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError, setTokenSource, type Problem } from './api';
import { BASE, navigate } from './router';

export type Role = 'admin' | 'auditor';

export interface ConsoleConfig {
  oidc: { authority: string; clientId: string; scopes: string; resource?: string } | null;
  development: boolean;
  rolesClaim: string;
}

export interface Session {
  kind: 'development' | 'oidc';
  subject: string;
  roles: ReadonlySet<Role>;
  expiresAt: number;
}

interface AuthState {
  config: ConsoleConfig | null;
  configError: Problem | null;
  session: Session | null;
  /** The API refused the token (expired, revoked): shown over the page, which keeps its state. */
  refused: Problem | null;
  busy: boolean;
  signInError: Problem | null;
  signInDevelopment(roles: Role[]): Promise<void>;
  signInOidc(): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const a = useContext(AuthContext);
  if (!a) throw new Error('useAuth outside AuthProvider');
  return a;
}

/** The roles in the token's claim, read as the API reads them (array or space/comma list, dotted path). */
export function rolesOf(token: string, claim: string): Set<Role> {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    let value: unknown = claim in payload ? payload[claim] : undefined;
    if (value === undefined) {
      value = claim.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), payload);
    }
    const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
    return new Set(list.filter((r): r is Role => r === 'admin' || r === 'auditor'));
  } catch {
    return new Set();
  }
}

function subjectOf(token: string): string {
  try {
    return String((JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: string }).sub ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

const CALLBACK = `${BASE}/callback`;

/**
 * Signing in. Tokens live in this module's memory only (never localStorage or sessionStorage):
 * a reload signs the operator out. OIDC: authorization code with PKCE (oidc-client-ts); only the
 * transient PKCE verifier and state sit in sessionStorage between the redirect and the callback,
 * which removes them. Renewal before expiry, at 80 % of the token's life: OIDC with the refresh
 * token grant when the IdP gave one (no hidden iframe: the CSP allows no frames), the development
 * token by minting a new one. When renewal is impossible or fails, the token runs out and the API's
 * refusal is shown over the page, which keeps its state.
 */
const RENEW_AT = 0.8;
export function AuthProvider({ children }: { children: ReactNode }) {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [configError, setConfigError] = useState<Problem | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [refused, setRefused] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [signInError, setSignInError] = useState<Problem | null>(null);
  const token = useRef<string | null>(null);
  const manager = useRef<UserManager | null>(null);
  const renewTimer = useRef<number | undefined>(undefined);
  const devRoles = useRef<Role[]>([]);

  useEffect(() => {
    setTokenSource(
      () => token.current,
      (p) => setRefused(p),
    );
  }, []);

  const adoptToken = useCallback((access: string, kind: Session['kind'], expiresAt: number, claim: string) => {
    token.current = access;
    setRefused(null);
    setSignInError(null);
    setSession({ kind, subject: subjectOf(access), roles: rolesOf(access, claim), expiresAt });
  }, []);

  /** Runs `renew` at 80 % of the time left; only the latest token's renewal stays scheduled. */
  const scheduleRenewal = useCallback((expiresAt: number, renew: () => Promise<unknown>) => {
    window.clearTimeout(renewTimer.current);
    const left = expiresAt - Date.now();
    if (left > 0) renewTimer.current = window.setTimeout(() => void renew().catch(() => undefined), left * RENEW_AT);
  }, []);

  const adoptUser = useCallback(
    (user: User, claim: string, resource: string | undefined) => {
      const expiresAt = (user.expires_at ?? 0) * 1000;
      adoptToken(user.access_token, 'oidc', expiresAt, claim);
      const um = manager.current;
      // signinSilent with a refresh token is the refresh token grant; it loads the new user (userLoaded).
      if (um && user.refresh_token) scheduleRenewal(expiresAt, () => um.signinSilent(resource ? { resource } : {}));
    },
    [adoptToken, scheduleRenewal],
  );

  // Load the sign-in settings; finish an OIDC redirect when this is the callback.
  useEffect(() => {
    let cancelled = false;
    (async () => {
      let cfg: ConsoleConfig;
      try {
        const res = await fetch(`${BASE}/config.json`, { cache: 'no-store' });
        if (!res.ok) throw new Error(String(res.status));
        cfg = (await res.json()) as ConsoleConfig;
      } catch {
        if (!cancelled)
          setConfigError({
            status: 0,
            title: 'The broker is not answering',
            detail: 'The console could not load its settings (/console/config.json). Reload when the broker is up.',
          });
        return;
      }
      if (cancelled) return;
      setConfig(cfg);
      if (!cfg.oidc) return;
      const origin = window.location.origin;
      const um = new UserManager({
        authority: cfg.oidc.authority,
        client_id: cfg.oidc.clientId,
        redirect_uri: `${origin}${CALLBACK}`,
        post_logout_redirect_uri: `${origin}${BASE}/`,
        response_type: 'code',
        scope: cfg.oidc.scopes,
        userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
        stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
        automaticSilentRenew: false,
        loadUserInfo: false,
        ...(cfg.oidc.resource ? { extraQueryParams: { resource: cfg.oidc.resource }, extraTokenParams: { resource: cfg.oidc.resource } } : {}),
      });
      manager.current = um;
      const resource = cfg.oidc.resource;
      um.events.addUserLoaded((u) => adoptUser(u, cfg.rolesClaim, resource));
      if (window.location.pathname === CALLBACK) {
        setBusy(true);
        try {
          const user = await um.signinRedirectCallback();
          adoptUser(user, cfg.rolesClaim, resource);
          const back = typeof user.state === 'string' && user.state.startsWith(`${BASE}/`) ? user.state : `${BASE}/`;
          navigate(back, true);
        } catch (err) {
          setSignInError({ status: 0, title: 'Sign-in did not complete', detail: (err as Error).message || 'The identity provider refused the sign-in.' });
          navigate('/', true);
        } finally {
          setBusy(false);
        }
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [adoptUser]);

  const mintDevelopment = useCallback(
    async (roles: Role[], claim: string): Promise<void> => {
      const res = await fetch(`${BASE}/dev-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ roles }),
        cache: 'no-store',
      }).catch(() => null);
      if (!res) throw new ApiError({ status: 0, title: 'The broker is not answering', detail: 'Development sign-in could not reach the broker.' });
      const body = (await res.json().catch(() => ({}))) as { accessToken?: string; expiresIn?: number; title?: string; detail?: string };
      if (!res.ok || !body.accessToken) {
        throw new ApiError({ status: res.status, title: body.title ?? `HTTP ${res.status}`, detail: body.detail ?? 'Development sign-in failed.' });
      }
      const expiresAt = Date.now() + (body.expiresIn ?? 60) * 1000;
      adoptToken(body.accessToken, 'development', expiresAt, claim);
      scheduleRenewal(expiresAt, () => mintDevelopment(devRoles.current, claim));
    },
    [adoptToken, scheduleRenewal],
  );

  const signInDevelopment = useCallback(
    async (roles: Role[]) => {
      if (!config) return;
      devRoles.current = roles;
      setBusy(true);
      try {
        await mintDevelopment(roles, config.rolesClaim);
      } catch (err) {
        setSignInError(err instanceof ApiError ? err.problem : { status: 0, title: 'Sign-in failed', detail: String(err) });
      } finally {
        setBusy(false);
      }
    },
    [config, mintDevelopment],
  );

  const signInOidc = useCallback(async () => {
    const um = manager.current;
    if (!um) return;
    setBusy(true);
    try {
      const here = window.location.pathname + window.location.search;
      await um.signinRedirect({ state: here.startsWith(`${BASE}/`) && !here.startsWith(CALLBACK) ? here : `${BASE}/` });
    } catch (err) {
      setBusy(false);
      setSignInError({ status: 0, title: 'The identity provider is not answering', detail: (err as Error).message });
    }
  }, []);

  const signOut = useCallback(async () => {
    window.clearTimeout(renewTimer.current);
    const kind = session?.kind;
    token.current = null;
    setSession(null);
    setRefused(null);
    const um = manager.current;
    if (kind === 'oidc' && um) {
      const user = await um.getUser();
      await um.removeUser();
      // Ends the IdP session too, not just the console's memory.
      await um.signoutRedirect({ id_token_hint: user?.id_token }).catch(() => undefined);
    }
  }, [session]);

  const value = useMemo<AuthState>(
    () => ({ config, configError, session, refused, busy, signInError, signInDevelopment, signInOidc, signOut }),
    [config, configError, session, refused, busy, signInError, signInDevelopment, signInOidc, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
