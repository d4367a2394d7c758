// A Lambda handler module whose loading never ends (a top-level await that never settles): its
// cold start must be bounded by the invocation's time. Used by the local runtime's tests only.
await new Promise(() => undefined);

export async function handler(): Promise<unknown> {
  return { loaded: true };
}
