// The actor headers a trusted backend adds: campaign_core_http.sign_actor_headers, in Node.
import { createHash, createHmac, randomBytes } from "node:crypto";

export interface ActingUser {
  userId: string;
  role: "owner" | "admin" | "editor" | "viewer";
  accountId: string;
}

export function signActor(
  secret: string,
  method: string,
  target: string,
  body: string,
  actor: ActingUser,
  now: Date = new Date(),
): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000).toString();
  // new for every request: the service serves a signed write once
  const nonce = randomBytes(16).toString("base64url");
  const base = [
    "v1",
    method.toUpperCase(),
    target,
    createHash("sha256").update(body).digest("hex"),
    actor.userId,
    actor.role,
    actor.accountId,
    timestamp,
    nonce,
  ].join("\n");
  return {
    "x-actor-id": actor.userId,
    "x-actor-role": actor.role,
    "x-actor-account": actor.accountId,
    "x-actor-timestamp": timestamp,
    "x-actor-nonce": nonce,
    "x-actor-signature": "v1=" + createHmac("sha256", secret).update(base).digest("hex"),
  };
}
