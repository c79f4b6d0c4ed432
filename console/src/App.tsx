import { useEffect, useRef, useState } from 'react';
import { Button, Checkbox, CheckboxGroup, Label, Link } from 'react-aria-components';
import { useAuth, type Role } from './auth';
import { navigate, useLocation } from './router';
import { ActivityScreen } from './screens/Activity';
import { AuditScreen } from './screens/Audit';
import { DeviceScreen, DevicesScreen } from './screens/Devices';
import { EnrollmentScreen } from './screens/Enrollment';
import { IntegrityScreen } from './screens/Integrity';
import { TerminalsScreen } from './screens/Terminals';
import { ProblemAlert } from './ui';

interface Screen {
  path: string;
  name: string;
  role: Role;
}
/** Admins manage devices and terminals; auditors read the trail (the API enforces the same split). */
const SCREENS: Screen[] = [
  { path: '/audit', name: 'Audit', role: 'auditor' },
  { path: '/activity', name: 'Activity', role: 'auditor' },
  { path: '/integrity', name: 'Integrity', role: 'auditor' },
  { path: '/devices', name: 'Devices', role: 'admin' },
  { path: '/terminals', name: 'Terminals', role: 'admin' },
  { path: '/enrollment', name: 'Enrollment', role: 'admin' },
];

export function App() {
  const auth = useAuth();
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const allowed = SCREENS.filter((s) => auth.session?.roles.has(s.role));
  const current = allowed.find((s) => path === s.path || path.startsWith(`${s.path}/`));

  useEffect(() => {
    if (auth.session && !current && allowed.length > 0 && !path.startsWith('/callback')) navigate(allowed[0].path, true);
  }, [auth.session, current, allowed, path]);
  useEffect(() => {
    document.title = `${current?.name ?? 'Sign in'} · pos-session-broker console`;
  }, [current]);

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">pos-session-broker console</span>
        {auth.session && (
          <div className="who">
            <span>
              {auth.session.subject} · {[...auth.session.roles].join(', ') || 'no roles'}
              {auth.session.kind === 'development' ? ' · development' : ''}
            </span>
            <Button className="button small" onPress={() => void auth.signOut()}>
              Sign out
            </Button>
          </div>
        )}
      </header>
      {auth.session && allowed.length > 0 && (
        <nav className="nav" aria-label="Console">
          <ul>
            {allowed.map((s) => (
              <li key={s.path}>
                <Link href={`/console${s.path}`} aria-current={current === s ? 'page' : undefined}>
                  {s.name}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main id="main" ref={main} tabIndex={-1}>
        {auth.refused && auth.session && <Refused />}
        {!auth.session ? (
          <SignIn />
        ) : allowed.length === 0 ? (
          <>
            <h1>No console role</h1>
            <p>Your token carries neither the admin nor the auditor role. Ask for one, then sign in again.</p>
          </>
        ) : (
          <ScreenFor path={path} />
        )}
      </main>
    </>
  );
}

function ScreenFor({ path }: { path: string }) {
  const device = /^\/devices\/([^/]+)$/.exec(path);
  if (device) return <DeviceScreen id={decodeURIComponent(device[1])} />;
  switch (path) {
    case '/audit':
      return <AuditScreen />;
    case '/activity':
      return <ActivityScreen />;
    case '/integrity':
      return <IntegrityScreen />;
    case '/devices':
      return <DevicesScreen />;
    case '/terminals':
      return <TerminalsScreen />;
    case '/enrollment':
      return <EnrollmentScreen />;
    default:
      return null;
  }
}

/** The API refused the token mid-session: say so over the page, which keeps its filters and forms. */
function Refused() {
  const auth = useAuth();
  const [roles] = useState<Role[]>(() => [...(auth.session?.roles ?? [])]);
  return (
    <div className="refused" role="alert">
      <strong>Your sign-in is no longer accepted — {auth.refused?.title}</strong>
      <p>{auth.refused?.detail} Your filters and forms are kept; sign in again and retry.</p>
      <Button className="button primary" onPress={() => void (auth.session?.kind === 'development' ? auth.signInDevelopment(roles) : auth.signInOidc())}>
        Sign in again
      </Button>
    </div>
  );
}

function SignIn() {
  const auth = useAuth();
  const [roles, setRoles] = useState<string[]>(['admin', 'auditor']);
  if (auth.configError) return <ProblemAlert problem={auth.configError} />;
  if (!auth.config) return <p role="status">Loading…</p>;
  const { config } = auth;
  return (
    <section className="signin" aria-labelledby="signin-h">
      <h1 id="signin-h">Sign in</h1>
      <p>Admins manage terminals and devices; auditors read and verify the issuance trail.</p>
      <ProblemAlert problem={auth.signInError} />
      {config.oidc && (
        <Button className="button primary" isDisabled={auth.busy} onPress={() => void auth.signInOidc()}>
          Sign in with your identity provider
        </Button>
      )}
      {config.development && (
        <div className="dev">
          <CheckboxGroup value={roles} onChange={setRoles} className="roles">
            <Label>Roles for the development token</Label>
            <Checkbox value="admin">admin</Checkbox>
            <Checkbox value="auditor">auditor</Checkbox>
          </CheckboxGroup>
          <Button className="button" isDisabled={auth.busy || roles.length === 0} onPress={() => void auth.signInDevelopment(roles as Role[])}>
            Sign in (development)
          </Button>
          <p className="hint">Embedded mode only: a short-lived token from the broker's local operator key.</p>
        </div>
      )}
      {!config.oidc && !config.development && (
        <p>No sign-in is configured. Set CONSOLE_OIDC_CLIENT_ID (and CONSOLE_OIDC_ISSUER or OPERATOR_JWT_ISSUER) for your identity provider.</p>
      )}
    </section>
  );
}
