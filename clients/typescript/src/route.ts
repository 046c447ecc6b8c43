// A Next.js-style route handler (app/api/campaigns/route.ts): authenticate with the host's
// session, then forward to campaign-core with the actor signed in. Compiled, and called by
// the flows with the platform's own Request and Response.
import { type ActingUser, signActor } from "./sign.js";

export type Session = ActingUser | null;

export function makeRouteHandler(core: string, secret: string, getSession: (req: Request) => Promise<Session>) {
  return async function forward(req: Request, path: string): Promise<Response> {
    const session = await getSession(req);
    if (!session) {
      return Response.json({ error: { code: "unauthenticated", message: "sign in" } }, { status: 401 });
    }
    const method = req.method.toUpperCase();
    const body = method === "GET" || method === "DELETE" ? "" : await req.text();
    const target = path + new URL(req.url).search;
    const res = await fetch(core + target, {
      method,
      headers: { "content-type": "application/json", ...signActor(secret, method, target, body, session) },
      ...(body ? { body } : {}),
    });
    if (res.status === 204) return new Response(null, { status: 204 });
    return Response.json(await res.json(), { status: res.status });
  };
}
