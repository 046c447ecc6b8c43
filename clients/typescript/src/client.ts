// A typed client: every call's path, body and answer come from the generated OpenAPI types.
import type { components, paths } from "./generated/api.js";
import { type ActingUser, signActor } from "./sign.js";

export type Schemas = components["schemas"];
export type ErrorBody = Schemas["Error"];

type Method = "get" | "post" | "put" | "patch" | "delete";
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Json<R> = R extends { content: { "application/json": infer T } } ? T : never;
type Success<P extends keyof paths, M extends Method> = Op<P, M> extends { responses: infer R }
  ? R extends Record<200, infer A>
    ? Json<A>
    : R extends Record<201, infer A>
      ? Json<A>
      : undefined
  : never;
type Body<P extends keyof paths, M extends Method> = Op<P, M> extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

export type Result<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; error: ErrorBody["error"]; headers: Headers };

export class CampaignCoreClient {
  constructor(
    private readonly baseUrl: string,
    private readonly secret: string,
    private readonly actor: ActingUser,
  ) {}

  async call<P extends keyof paths, M extends Method>(
    method: M,
    path: P,
    options: {
      params?: Record<string, string>;
      query?: Record<string, string | number | boolean>;
      body?: Body<P, M>;
      idempotencyKey?: string;
    } = {},
  ): Promise<Result<Success<P, M>>> {
    let target: string = path;
    for (const [name, value] of Object.entries(options.params ?? {})) {
      target = target.replace(`{${name}}`, encodeURIComponent(value));
    }
    const query = new URLSearchParams(
      Object.entries(options.query ?? {}).map(([k, v]) => [k, String(v)]),
    ).toString();
    if (query) target += `?${query}`;
    return this.raw(method.toUpperCase(), target, options.body === undefined ? "" : JSON.stringify(options.body), options.idempotencyKey);
  }

  async raw<T>(
    method: string,
    target: string,
    body: string,
    idempotencyKey?: string,
    headers: Record<string, string> = {},
  ): Promise<Result<T>> {
    const response = await fetch(this.baseUrl + target, {
      method,
      headers: {
        ...(body ? { "content-type": "application/json" } : {}),
        ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}),
        ...signActor(this.secret, method, target, body, this.actor),
        ...headers,
      },
      ...(body ? { body } : {}),
    });
    if (response.status === 204) return { ok: true, status: 204, data: undefined as T };
    const payload: unknown = await response.json();
    if (response.ok) return { ok: true, status: response.status, data: payload as T };
    const error = (payload as ErrorBody).error;
    if (typeof error?.code !== "string" || typeof error.message !== "string") {
      throw new Error(`${method} ${target}: ${response.status} without an error body`);
    }
    return { ok: false, status: response.status, error, headers: response.headers };
  }
}
