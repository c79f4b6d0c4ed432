// Jest only (see jest.config.js): Node's own require() loads this ES module, outside Jest's module
// registry. process.getBuiltinModule is the real node:module (Jest's require would map back here).
module.exports = process.getBuiltinModule('node:module').createRequire(__filename)('content-disposition');
