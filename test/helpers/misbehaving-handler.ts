// A Lambda handler that fails at the Lambda level, as chosen by the request path: what the local
// API gateway must answer with a 500 without ending its process. Used by the gateway's tests only.
export async function handler(event: { path?: string; type?: string }): Promise<unknown> {
  if (event.type === "REQUEST") throw new TypeError("the authorizer cannot read its secret");
  switch (event.path) {
    case "/throws":
      throw new Error("boom past middy");
    case "/hangs":
      return new Promise(() => undefined); // never answers: the invocation times out
    case "/malformed":
      return { statusCode: "not a status" };
    default:
      return { statusCode: 200, headers: {}, body: JSON.stringify({ ok: true }) };
  }
}
