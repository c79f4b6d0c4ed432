import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../common/errors';

/**
 * Fastify's own JSON body parser (secure-json-parse: `__proto__` and `constructor.prototype` are
 * refused), with one addition: a body that is not JSON is answered with where it breaks (line,
 * column), as the JavaScript parser locates it. The parser's own message is never passed on: it
 * can quote the body, which may hold a secret.
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    void parse(request, text, (err: Error | null, value?: unknown) => {
      if (err && (err as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') return done(whereJsonBreaks(text), undefined);
      done(err, value);
    });
  });
}

/** A 400 naming the line and column where `text` stops being JSON. */
export function whereJsonBreaks(text: string): ValidationError {
  let reason: string;
  try {
    JSON.parse(text);
    // Valid JSON that secure-json-parse refused: a prototype-poisoning key.
    reason = 'The request body is not accepted: it holds a "__proto__" or "constructor.prototype" key.';
  } catch (err) {
    const position = breakingPosition(text);
    const what = /^(.*?) in JSON at position \d+/.exec((err as Error).message)?.[1];
    if (position >= text.length) reason = `The request body is not valid JSON: it ends early (${lineAndColumn(text, text.length)}).`;
    else if (what) reason = `The request body is not valid JSON: ${lowerFirst(what)} at ${lineAndColumn(text, position)}.`;
    else reason = `The request body is not valid JSON: unexpected ${describeChar(text[position])} at ${lineAndColumn(text, position)}.`;
  }
  return new ValidationError(reason, [{ path: 'body', message: reason.replace(/^The request body is /, '') }]);
}

/**
 * Where `text` stops being the beginning of some JSON document: the longest prefix the parser
 * accepts as far as it goes (it fails only for running out of input) ends there. Prefixes of
 * such a prefix are such prefixes too, so a binary search finds it in a few parses (error path
 * only, bodies are at most 16 KiB). The engine's own message gives no position for some errors.
 */
function breakingPosition(text: string): number {
  const viable = (prefix: string): boolean => {
    try {
      JSON.parse(prefix);
      return true;
    } catch (err) {
      const message = (err as Error).message;
      if (message.startsWith('Unexpected end of JSON input')) return true;
      const at = /at position (\d+)/.exec(message);
      return at !== null && Number(at[1]) >= prefix.length;
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (viable(text.slice(0, mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A character of the body, shown only when it is JSON punctuation (the rest may be part of a secret). */
function describeChar(c: string | undefined): string {
  return c !== undefined && /^[{}[\]:,"]$/.test(c) ? `'${c}'` : 'character';
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line}, column ${column} (position ${position})`;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
