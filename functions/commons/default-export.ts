/**
 * A module's default export, whether the module was loaded as ESM, or as CommonJS compiled from
 * ESM (where the export sits one level down, under `default.default`): a user's pipeline and
 * phases may be either, depending on their project's package.json.
 */
export function defaultExport<T extends { readonly kind: string }>(
  module: unknown,
  kind: T["kind"],
  from: string,
): T {
  const outer = (module as { default?: unknown } | undefined)?.default;
  const inner = (outer as { default?: unknown } | undefined)?.default;
  for (const candidate of [outer, inner])
    if ((candidate as { kind?: unknown } | undefined)?.kind === kind) return candidate as T;
  const what = kind === "stepbatch.pipeline" ? "definePipeline" : "definePhase";
  throw new Error(
    `${from} does not export a ${kind.replace("stepbatch.", "")}: export default ${what}({...})`,
  );
}
