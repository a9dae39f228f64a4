import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Shortest token accepted: anything shorter is guessable over a local port. */
export const MIN_TOKEN_LENGTH = 16;

/** A fresh random token (32 bytes, base64url). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Compares two secrets in time independent of where they differ. Both sides are
 * hashed first so inputs of different lengths compare in constant time too
 * (`timingSafeEqual` itself throws on a length mismatch, which would leak it).
 */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Secrets derived from the start token. The cookie holds a derived value rather
 * than the token, so the token itself never sits in the browser's cookie jar, and
 * the CSRF value differs from both.
 */
export class AdminAuth {
  readonly cookieName: string;
  private readonly sessionValue: string;
  readonly csrfToken: string;

  constructor(
    private readonly token: string,
    port: number,
  ) {
    // Cookies are scoped by host, not port: two dashboards on 127.0.0.1 must not overwrite each other's cookie.
    this.cookieName = `jqjobs_admin_${port}`;
    this.sessionValue = createHmac('sha256', token).update('jqjobs-admin session v1').digest('base64url');
    this.csrfToken = createHmac('sha256', token).update('jqjobs-admin csrf v1').digest('base64url');
  }

  checkToken(candidate: string): boolean {
    return safeEqual(candidate, this.token);
  }

  checkCsrf(candidate: string | undefined): boolean {
    return candidate !== undefined && safeEqual(candidate, this.csrfToken);
  }

  /** How the request proved it holds the token, or null when it did not. */
  authenticate(req: IncomingMessage): 'bearer' | 'cookie' | null {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      // A wrong Authorization header is a failure even when a good cookie is present: the caller meant it.
      return m?.[1] !== undefined && this.checkToken(m[1]) ? 'bearer' : null;
    }
    const cookie = readCookie(req.headers.cookie, this.cookieName);
    if (cookie !== undefined && safeEqual(cookie, this.sessionValue)) return 'cookie';
    return null;
  }

  setCookieHeader(): string {
    return `${this.cookieName}=${this.sessionValue}; Path=/; HttpOnly; SameSite=Strict`;
  }
}

/** The value of one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** True for an address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Host header check against DNS rebinding: a page on evil.example that re-resolves
 * its name to 127.0.0.1 reaches this port with `Host: evil.example`. When bound to
 * loopback, only loopback names are accepted. When the operator binds another
 * address on purpose, any Host is accepted (the token still guards everything).
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string, port: number): boolean {
  if (!isLoopbackHost(boundHost)) return hostHeader !== undefined;
  if (hostHeader === undefined) return false;
  const allowed = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  // Other 127.x.y.z addresses are loopback too and show up as the Host when bound to them.
  if (/^127\./.test(boundHost)) allowed.push(`${boundHost}:${port}`);
  return allowed.includes(hostHeader.toLowerCase());
}

/**
 * Cross-site request check for state-changing requests. A browser always labels
 * a cross-site POST with `Origin` and (Chromium, Firefox, Safari) `Sec-Fetch-Site`;
 * either one contradicting same-origin rejects the request. A cookie-authenticated
 * POST must also carry one of them positively (old or odd clients that send
 * neither use the Bearer header instead, which a cross-site page cannot set).
 * @returns null when allowed, else the reason.
 */
export function crossSiteProblem(req: IncomingMessage, auth: 'bearer' | 'cookie'): string | null {
  const host = req.headers.host;
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  const expected = host === undefined ? undefined : `http://${host.toLowerCase()}`;
  if (origin !== undefined && origin.toLowerCase() !== expected) return 'cross-origin request (Origin does not match)';
  if (site !== undefined && site !== 'same-origin') return `cross-site request (Sec-Fetch-Site: ${site})`;
  if (auth === 'cookie' && origin === undefined && site === undefined) return 'request without Origin or Sec-Fetch-Site';
  return null;
}
