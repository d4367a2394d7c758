import { createHash, timingSafeEqual } from "node:crypto";

/** Pulls the token from `Authorization: Bearer <t>` or its alias `X-Admin-Token: <t>`. */
export function tokenFromHeaders(
  headers: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const lower: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  const bearer = lower.authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  const alias = lower["x-admin-token"]?.trim();
  return bearer || alias || undefined;
}

/** Constant-time comparison: both sides are hashed first so their lengths leak nothing either. */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b) && expected.length > 0;
}
