import { useSyncExternalStore } from 'react';

/** A small history router: the app's paths live under /console/, filters in the query string. */
export const BASE = '/console';
const listeners = new Set<() => void>();

function notify(): void {
  for (const l of listeners) l();
}
window.addEventListener('popstate', notify);

export function navigate(to: string, replace = false): void {
  const url = to.startsWith(BASE) ? to : `${BASE}${to}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  notify();
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
const snapshot = () => location.pathname + location.search;

export function useLocation(): { path: string; params: URLSearchParams } {
  const full = useSyncExternalStore(subscribe, snapshot);
  const [p, q = ''] = full.split('?');
  const path = p.startsWith(BASE) ? p.slice(BASE.length) || '/' : p;
  return { path, params: new URLSearchParams(q) };
}

/** Query-string params as a plain object (the filters of a view). */
export function paramsObject(params: URLSearchParams): Record<string, string> {
  const o: Record<string, string> = {};
  params.forEach((v, k) => {
    o[k] = v;
  });
  return o;
}
