import { serialize } from 'cookie';

export const REFRESH_COOKIE = 'crm_refresh';

/** httpOnly, Secure, SameSite=Strict, scoped to the API: scripts can never read it. */
export const refreshCookie = (token: string, maxAgeSeconds: number): string =>
  serialize(REFRESH_COOKIE, token, { httpOnly: true, secure: true, sameSite: 'strict', path: '/api', maxAge: maxAgeSeconds });

export const clearedRefreshCookie = (): string =>
  serialize(REFRESH_COOKIE, '', { httpOnly: true, secure: true, sameSite: 'strict', path: '/api', maxAge: 0 });
