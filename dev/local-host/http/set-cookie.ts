/**
 * `HttpResponseInit.cookies` as Set-Cookie header values, with the attributes the host sends (it hands them to
 * ASP.NET Core's response cookies). Values go out as given: encode them in the handler if they need it.
 */
import type { Cookie } from '@azure/functions';

export function formatSetCookie(cookie: Cookie): string {
  const parts = [`${cookie.name}=${cookie.value}`];
  if (cookie.maxAge !== undefined) parts.push(`max-age=${Math.trunc(cookie.maxAge)}`);
  if (cookie.expires !== undefined) {
    const expires = cookie.expires instanceof Date ? cookie.expires : new Date(cookie.expires);
    parts.push(`expires=${expires.toUTCString()}`);
  }
  if (cookie.domain) parts.push(`domain=${cookie.domain}`);
  if (cookie.path) parts.push(`path=${cookie.path}`);
  if (cookie.secure) parts.push('secure');
  if (cookie.sameSite) parts.push(`samesite=${cookie.sameSite.toLowerCase()}`);
  if (cookie.httpOnly) parts.push('httponly');
  return parts.join('; ');
}
