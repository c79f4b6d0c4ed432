import { stringify } from 'csv-stringify/sync';
import { csvCell, csvLine, csvLines, type CsvValue } from './csv';

describe('csv', () => {
  const tricky: CsvValue[] = [
    'plain',
    '=HYPERLINK("http://evil","x")',
    '+1+2',
    '-2+3',
    '@SUM(A1)',
    '\tlead tab',
    '\rlead cr',
    '\uFF1D1+1',
    '\uFF0B1',
    '\uFF0D1',
    '\uFF20x',
    'comma, inside',
    'quote " inside',
    'line\nbreak',
    'cr\rinside',
    'safe=later',
    "'already quoted",
    '',
    null,
    0,
    42,
    -7,
    '{"command":"doDeal"}',
    'semi;colon',
    ';',
    'tab\tinside',
  ];

  // Every text cell quoted (";" locales), empty cells left empty, numbers bare.
  const options = { escape_formulas: true, quoted_string: true, quoted_empty: false };

  it('writes exactly what csv-stringify writes with escape_formulas', () => {
    const oracle = stringify([tricky], options);
    expect(csvLine(tricky)).toBe(oracle);
  });

  it('matches csv-stringify cell by cell, each as a one-cell record', () => {
    for (const value of tricky) {
      expect(csvLine([value])).toBe(stringify([[value]], options));
    }
  });

  it('writes many records as csv-stringify does', () => {
    const rows: CsvValue[][] = [tricky, ['a', 1, null], tricky.slice().reverse()];
    expect(csvLines(rows)).toBe(stringify(rows, options));
    expect(csvLines([])).toBe('');
  });

  it('neutralises formula starters and quotes every text cell', () => {
    expect(csvCell('=1+1')).toBe(`"'=1+1"`);
    expect(csvCell('-1')).toBe(`"'-1"`);
    expect(csvCell(-1)).toBe('-1');
    expect(csvCell('=a,"b"')).toBe(`"'=a,""b"""`);
    expect(csvCell('a\nb')).toBe('"a\nb"');
    expect(csvCell('a\rb')).toBe('"a\rb"');
    expect(csvCell('a;b')).toBe('"a;b"');
    expect(csvCell('plain')).toBe('"plain"');
    expect(csvCell(null)).toBe('');
    expect(csvCell('')).toBe('');
  });

  it('writes the columns marked numeric bare when they hold digits, as text otherwise', () => {
    expect(csvLines([['12', 'a;b', '7', null]], [true, false, true, true])).toBe('12,"a;b",7,\n');
    expect(csvLines([['1;2', '=1', '-3']], [true, true, true])).toBe(`"1;2","'=1","'-3"\n`);
  });
});
