export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, our source, Node's internals, or V8's own buckets. */
function areaOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node core';
  const own = /\/dist\/(src\/[^/]+)/.exec(url);
  return own ? own[1] : url;
}

/** Self time by function and by area from a --cpu-prof profile, as Markdown (top 10 each). */
export function summariseProfile(profile: CpuProfile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const file = url.replace(/^.*\/(node_modules|dist)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = areaOf(url, functionName);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k, us], i) => `| ${i + 1} | \`${k}\` | ${((100 * us) / busy).toFixed(1)} % |`)
      .join('\n');
  return [
    `Busy (non-idle) CPU in the profile: ${(busy / 1e6).toFixed(2)} s.`,
    '',
    'Self time by area (package, our module, Node core, V8 buckets such as GC):',
    '',
    '| # | area | share of busy CPU |',
    '| --- | --- | --- |',
    top(area),
    '',
    'Top 10 functions by self time:',
    '',
    '| # | function | share of busy CPU |',
    '| --- | --- | --- |',
    top(fn),
  ].join('\n');
}
