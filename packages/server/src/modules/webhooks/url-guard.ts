/**
 * The SSRF guard of webhooks. A webhook URL makes the server send requests where a workspace
 * admin says, so by default it may not reach the server's own network: loopback, link-local
 * (cloud metadata at 169.254.169.254), private, shared (CGNAT), unspecified, multicast and
 * reserved addresses are refused, IPv4-mapped IPv6 included, and so is every IPv6 address that
 * carries a forbidden IPv4 address inside it (IPv4-compatible `::a.b.c.d`, SIIT
 * `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`), since a NAT64 or 6to4
 * relay delivers those to the IPv4 address. Teredo (`2001::/32`) is refused as a whole: its IPv4
 * address is obfuscated and no webhook receiver needs it. ROSTER_WEBHOOK_ALLOW_PRIVATE=true lifts
 * it all (tests, private networks).
 *
 * The check runs when a webhook is created or its URL changed (a clear 400), and again at every
 * delivery against the address actually connected to: the resolver is wrapped (guardedLookup),
 * so a name that resolved to a public address at creation and to 127.0.0.1 now (DNS rebinding)
 * is refused without a connection being made.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { badRequest } from '../../lib/errors.js';

const FORBIDDEN = new BlockList();
for (const [network, bits] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  FORBIDDEN.addSubnet(network, bits, 'ipv4');
}
for (const [network, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard-only
  ['2001::', 32], // Teredo: the IPv4 address inside is obfuscated, refused as a whole
  ['64:ff9b:1::', 48], // local-use NAT64
  ['fc00::', 7], // unique local (private)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still private where used)
  ['ff00::', 8], // multicast
] as const) {
  FORBIDDEN.addSubnet(network, bits, 'ipv6');
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part included). */
function ipv6Groups(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

const ipv4Of = (high: number, low: number) =>
  `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/**
 * The IPv4 address an IPv6 address carries and that a translator or relay would deliver to:
 * IPv4-compatible (::/96), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
 */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zero(0, 6)) return ipv4Of(g[6] ?? 0, g[7] ?? 0);
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return ipv4Of(g[6] ?? 0, g[7] ?? 0);
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return ipv4Of(g[6] ?? 0, g[7] ?? 0);
  if (g[0] === 0x2002) return ipv4Of(g[1] ?? 0, g[2] ?? 0);
  return undefined;
}

/** Whether an address is one a webhook may not reach (BlockList also checks IPv4-mapped IPv6). */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 4) return FORBIDDEN.check(address, 'ipv4');
  if (FORBIDDEN.check(address, 'ipv6')) return true;
  const inside = embeddedIpv4(address);
  return inside !== undefined && FORBIDDEN.check(inside, 'ipv4');
}

/** The URL's host as the resolver takes it (IPv6 literals lose their brackets). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

const ALLOW_HINT =
  'Roster refuses loopback, link-local and private addresses unless ROSTER_WEBHOOK_ALLOW_PRIVATE=true';

/** Checks a webhook URL when it is stored: http(s), resolvable, and to an allowed address. */
export async function assertWebhookUrl(raw: string, allowPrivate: boolean): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest('webhook.url_invalid', `The webhook URL "${raw}" is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badRequest('webhook.url_invalid', 'A webhook URL must use http or https');
  }
  if (url.username !== '' || url.password !== '') {
    throw badRequest('webhook.url_invalid', 'A webhook URL must not carry credentials');
  }
  if (allowPrivate) return;
  const host = hostOf(url);
  let addresses: LookupAddress[];
  try {
    addresses = isIP(host) === 0 ? await lookup(host, { all: true, verbatim: true }) : [];
  } catch {
    throw badRequest('webhook.url_unresolvable', `The webhook host ${host} does not resolve`);
  }
  if (isIP(host) !== 0) addresses = [{ address: host, family: isIP(host) }];
  const forbidden = addresses.find((entry) => isForbiddenAddress(entry.address));
  if (forbidden !== undefined) {
    throw badRequest(
      'webhook.url_forbidden',
      `The webhook URL's host ${host} resolves to ${forbidden.address}, a loopback, link-local or private address. ${ALLOW_HINT}.`,
    );
  }
}

/** A delivery refused by the guard (recorded on the delivery as its error). */
export class ForbiddenAddressError extends Error {
  override readonly name = 'ForbiddenAddressError';
}

/**
 * The URL's host, refused at once when it is a forbidden IP literal (the resolver is not asked
 * for a literal, so guardedLookup would not see it).
 */
export function assertLiteralHostAllowed(url: URL, allowPrivate: boolean): void {
  const host = hostOf(url);
  if (!allowPrivate && isIP(host) !== 0 && isForbiddenAddress(host)) {
    throw new ForbiddenAddressError(`${host} is a forbidden address. ${ALLOW_HINT}.`);
  }
}

/**
 * The resolver for a delivery's socket: resolves as Node does, then fails the connection if any
 * address it would use is forbidden, so the address checked is the address connected to.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, '', 0);
        return;
      }
      const list = addresses;
      const forbidden = allowPrivate
        ? undefined
        : list.find((entry) => isForbiddenAddress(entry.address));
      if (forbidden !== undefined) {
        callback(
          new ForbiddenAddressError(
            `${hostname} resolves to ${forbidden.address}, a forbidden address. ${ALLOW_HINT}.`,
          ),
          '',
          0,
        );
        return;
      }
      if (options.all === true) {
        // The overload with `all` takes the list; LookupFunction types only the single form.
        (callback as unknown as (err: null, addresses: LookupAddress[]) => void)(null, list);
        return;
      }
      const first = list[0];
      if (first === undefined) {
        callback(new Error(`${hostname} has no address`), '', 0);
        return;
      }
      callback(null, first.address, first.family);
    });
  };
}
