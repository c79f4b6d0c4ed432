// The SDK's sources import each other as './x.js' (what Node's ESM loader needs once compiled);
// under ts-jest those are the './x.ts' files beside them. Only requests from sdk/src are touched.
const { sep } = require('node:path');
const SDK_SRC = `${sep}sdk${sep}src`;

module.exports = (request, options) => {
  if (/^\.\.?\/.*\.js$/.test(request) && options.basedir.includes(SDK_SRC)) {
    try {
      return options.defaultResolver(request.replace(/\.js$/, '.ts'), options);
    } catch {
      // Not a TypeScript source: resolve as asked.
    }
  }
  return options.defaultResolver(request, options);
};
