/**
 * `Authorization: Bearer <token>` (RFC 6750 §2.1, RFC 9110 §11): the scheme in any case, one or
 * more spaces or tabs, then the credentials — visible ASCII without spaces — and nothing after
 * them but spaces or tabs. The one grammar of every route that takes a bearer token (admin API
 * keys, channel tokens on /exec, /files and /ws/token/v1, the metrics token), so no route
 * accepts a spelling another refuses.
 */
const BEARER = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i

/** The bearer token of an `Authorization` header, or undefined when there is none or it is malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header)?.[1]
}
