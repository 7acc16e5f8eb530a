/**
 * JSON request bodies: nesting depth is limited before parsing, and the NUL scan walks the parsed
 * value without recursion. A 20 KB body of 10,000 nested arrays parses fine, but any recursive
 * walk of it (the NUL scan, a validator, a serializer) overflows the stack and answered 500.
 * Nothing Roster accepts nests deeper than a dozen levels; 400 leaves room for what SCIM and
 * privilege configs carry while keeping every later walk shallow.
 */
import type { FastifyBodyParser, FastifyRequest } from 'fastify';
import { AppError } from '../lib/errors.js';

export const JSON_DEPTH_MAX = 400;

/**
 * True when JSON text opens more than `max` arrays/objects at once. Strings are skipped whole
 * (indexOf to the closing quote), so the scan costs about what JSON.parse does on text-heavy
 * bodies; a body too short to nest that deep is not scanned at all.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = closingQuote(text, i);
      if (i === -1) return false; // unterminated: the parser refuses it
    } else if (c === 0x5b || c === 0x7b) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth -= 1;
    }
  }
  return false;
}

/** The index of the quote that closes the string opened at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return -1;
    // An even number of backslashes before it (\\" is an escaped backslash) closes the string.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

type JsonParser = (
  request: FastifyRequest,
  body: string,
  done: (error: Error | null, body?: unknown) => void,
) => void;

export function depthLimitedJsonParser(parse: FastifyBodyParser<string>): JsonParser {
  // Fastify's default JSON parser is the callback form of a body parser.
  const parseWithCallback = parse as JsonParser;
  return (request, body, done) => {
    if (nestsDeeperThan(body, JSON_DEPTH_MAX)) {
      done(
        new AppError(
          400,
          'input.too_deep',
          `The JSON body nests deeper than ${JSON_DEPTH_MAX} levels of arrays and objects`,
        ),
      );
      return;
    }
    parseWithCallback(request, body, done);
  };
}

/** Whether any string or key in a parsed value contains NUL; iterative, whatever the depth. */
export function containsNul(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return true;
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (typeof value === 'object' && value !== null) {
      // for…in walks keys without allocating an entries array: this runs on every request body.
      for (const key in value) {
        if (key.includes('\u0000')) return true;
        pending.push((value as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}
