import { DomainError } from "../../common/errors.js";

export interface KratosIdentity {
  id: string;
  email: string;
  emailVerified: boolean;
}

interface WhoamiBody {
  active?: boolean;
  identity?: {
    id?: unknown;
    traits?: { email?: unknown };
    verifiable_addresses?: { value?: unknown; verified?: unknown }[];
  };
}

/**
 * Asks Kratos who owns the session cookies of a request
 * (`GET {KRATOS_URL}/sessions/whoami`). Returns undefined for no valid session.
 */
export async function whoami(kratosUrl: string, cookie: string): Promise<KratosIdentity | undefined> {
  let res: Response;
  try {
    res = await fetch(`${kratosUrl}/sessions/whoami`, {
      headers: { cookie, accept: "application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    throw new DomainError("unavailable", "the session service is unavailable");
  }
  if (res.status === 401 || res.status === 403) return undefined;
  if (!res.ok) throw new DomainError("unavailable", "the session service is unavailable");
  const body = (await res.json().catch(() => ({}))) as WhoamiBody;
  const id = body.identity?.id;
  const email = body.identity?.traits?.email;
  if (body.active !== true || typeof id !== "string" || typeof email !== "string") return undefined;
  const emailVerified = (body.identity?.verifiable_addresses ?? []).some(
    (a) => typeof a.value === "string" && a.value.toLowerCase() === email.toLowerCase() && a.verified === true,
  );
  return { id, email, emailVerified };
}
