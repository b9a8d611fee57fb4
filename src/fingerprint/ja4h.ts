/**
 * JA4H: the HTTP client fingerprint
 *   `<method><version><c|n><r|n><header count><language>_<headers>_<cookie names>_<cookies>`
 * with the last three parts as truncated SHA-256 hashes, computed as FoxIO's Rust tool does (the
 * conformance reference): header names in wire order without Cookie and Referer (HTTP/2 keeps its
 * pseudo-headers), cookies sorted by name, the language from the first Accept-Language entry.
 */
import { hash12 } from './hash.js';
import type { HeaderField } from './http/hpack.js';

const METHOD_CODES: Readonly<Record<string, string>> = {
  CONNECT: 'co', DELETE: 'de', GET: 'ge', HEAD: 'he', OPTIONS: 'op', PATCH: 'pa', POST: 'po', PUT: 'pu', TRACE: 'tr',
};

export type HttpVersionCode = '10' | '11' | '20' | '30';

/** What JA4H reads from one request. */
export interface Ja4hInput {
  method: string;
  version: HttpVersionCode;
  /** Header names in order, Cookie and Referer already left out. */
  headerNames: string[];
  hasCookie: boolean;
  hasReferer: boolean;
  /** Cookie pairs (`name=value`) in wire order. */
  cookies: string[];
  /** Accept-Language value, or null. */
  language: string | null;
}

export interface Ja4hResult {
  ja4h: string;
  /** The unhashed form (`ja4h_r`). */
  raw: string;
}

export { hash12 };

/** `da, en-GB;q=0.8` → `da00`; `en-US,en;q=0.9` → `enus`. */
export function languageCode(value: string | null): string {
  let lang = (value ?? '').trimStart();
  const comma = lang.indexOf(',');
  if (comma >= 0) lang = lang.slice(0, comma);
  lang = lang.split('-').join('').toLowerCase();
  const chars = Array.from(lang);
  if (chars.length >= 4) return chars.slice(0, 4).join('');
  return lang + '0'.repeat(4 - chars.length);
}

/** JA4H of one request, or null for a method the reference does not fingerprint. */
export function ja4h(input: Ja4hInput): Ja4hResult | null {
  const method = METHOD_CODES[input.method];
  if (method === undefined) return null;
  const count = Math.min(99, input.headerNames.length);
  const head = `${method}${input.version}${input.hasCookie ? 'c' : 'n'}${input.hasReferer ? 'r' : 'n'}` +
    `${count < 10 ? '0' : ''}${count}${languageCode(input.language)}`;
  const headers = input.headerNames.join(',');
  // Sorted by cookie name (a stable sort: equal names keep their order), as the reference does.
  const cookies = input.cookies.map((c) => {
    const eq = c.indexOf('=');
    return { key: eq >= 0 ? c.slice(0, eq) : c, item: c };
  }).sort((a, b) => compareCodeUnits(a.key, b.key));
  let keys = '';
  let items = '';
  for (let i = 0; i < cookies.length; i++) {
    keys += (i > 0 ? ',' : '') + cookies[i].key;
    items += (i > 0 ? ',' : '') + cookies[i].item;
  }
  return {
    ja4h: `${head}_${hash12(headers)}_${hash12(keys)}_${hash12(items)}`,
    raw: `${head}_${headers}_${keys}_${items}`,
  };
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An HTTP/1.x request head: the request line's parts and the header lines in order. */
export interface Http1Request {
  method: string;
  /** `HTTP/1.1` etc. */
  version: string;
  headers: HeaderField[];
}

/**
 * The reference matches HTTP/1 header names exactly: only `Cookie` and `Referer` set the flags and
 * leave the list; the cookie and language values come from the first such header in any case.
 */
export function ja4hInputFromHttp1(req: Http1Request): Ja4hInput | null {
  let version: HttpVersionCode;
  if (req.version === 'HTTP/1.1') version = '11';
  else if (req.version === 'HTTP/1.0') version = '10';
  else return null;
  const headerNames: string[] = [];
  let hasCookie = false;
  let hasReferer = false;
  let cookieValue: string | null = null;
  let language: string | null = null;
  for (const h of req.headers) {
    if (h.name === 'Cookie') hasCookie = true;
    else if (h.name === 'Referer') hasReferer = true;
    else headerNames.push(h.name);
    const lower = h.name.toLowerCase();
    if (cookieValue === null && lower === 'cookie') cookieValue = h.value;
    else if (language === null && lower === 'accept-language') language = h.value;
  }
  return {
    method: req.method, version, headerNames, hasCookie, hasReferer,
    cookies: cookieValue === null ? [] : cookieValue.split('; '), language,
  };
}

/** HTTP/2 (and HTTP/3) header lists: names are lower case, pseudo-headers count, each cookie field is one item. */
export function ja4hInputFromHeaderList(fields: readonly HeaderField[], version: HttpVersionCode = '20'): Ja4hInput | null {
  let method: string | null = null;
  const headerNames: string[] = [];
  let hasCookie = false;
  let hasReferer = false;
  const cookies: string[] = [];
  let language: string | null = null;
  for (const f of fields) {
    if (f.name === 'cookie') {
      hasCookie = true;
      cookies.push(f.value);
    } else if (f.name === 'referer') {
      hasReferer = true;
    } else {
      headerNames.push(f.name);
      if (method === null && f.name === ':method') method = f.value;
      else if (language === null && f.name === 'accept-language') language = f.value;
    }
  }
  if (method === null) return null;
  return { method, version, headerNames, hasCookie, hasReferer, cookies, language };
}
