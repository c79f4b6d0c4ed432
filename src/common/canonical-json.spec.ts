import { canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: 'x' }], c: true } })).toBe('{"a":{"c":true,"d":[3,{"y":"x","z":null}]},"b":1}');
  });

  it('gives the same text for the same value whatever the key order', () => {
    const one = JSON.parse('{"transactionType":"Credit","command":"doDeal","validation":"AutoComm"}') as unknown;
    const two = JSON.parse('{"command":"doDeal","validation":"AutoComm","transactionType":"Credit"}') as unknown;
    expect(canonicalJson(one)).toBe(canonicalJson(two));
  });

  it('orders keys by UTF-16 code units and escapes strings like JSON.stringify', () => {
    expect(canonicalJson({ é: 1, z: 2, Z: 3, '\u2028': 4 })).toBe('{"Z":3,"z":2,"é":1,"\u2028":4}');
    expect(canonicalJson(['a"b\n', 1e21, 0.1])).toBe('["a\\"b\\n",1e+21,0.1]');
  });

  it('refuses values JSON has no form for', () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson([1n])).toThrow(TypeError);
  });
});
