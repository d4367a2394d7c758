import { useEffect, useRef } from "preact/hooks";
import { safeDecode } from "../client/stepbatch-client.ts";
import { useRoute } from "./hooks.ts";
import { BatchPage } from "./pages/batch.tsx";
import { BatchesPage } from "./pages/batches.tsx";
import { JobPage } from "./pages/job.tsx";

/**
 * `#/`, `#/batches/<id>`, `#/batches/<id>/jobs/<jobId>`: pages are addresses, so they can be
 * shared and reloaded. Each page is keyed by what it shows: another batch is a new page, with
 * nothing (ticks, page of jobs, notices) carried over from the last one.
 */
type Place =
  | { readonly page: "job"; readonly batchId: string; readonly jobId: string }
  | { readonly page: "batch"; readonly batchId: string }
  | { readonly page: "batches" };

function placeOf(route: string): Place {
  const parts = route.split("/").filter(Boolean).map(safeDecode);
  if (parts[0] === "batches" && parts[1] && parts[2] === "jobs" && parts[3])
    return { page: "job", batchId: parts[1], jobId: parts[3] };
  if (parts[0] === "batches" && parts[1]) return { page: "batch", batchId: parts[1] };
  return { page: "batches" };
}

function Page({ route }: { route: string }) {
  const place = placeOf(route);
  if (place.page === "job") return <JobPage key={route} {...place} />;
  if (place.page === "batch") return <BatchPage key={route} {...place} />;
  return <BatchesPage />;
}

/** What the tab says for a page, so that a screen reader and the history name it. */
function titleOf(route: string, pipeline: string): string {
  const place = placeOf(route);
  const page =
    place.page === "job"
      ? `Job ${place.jobId} · batch ${place.batchId}`
      : place.page === "batch"
        ? `Batch ${place.batchId}`
        : "Batches";
  return `${page} · stepbatch console${pipeline ? ` · ${pipeline}` : ""}`;
}

export function App({ pipeline }: { pipeline: string }) {
  const route = useRoute();
  const content = useRef<HTMLDivElement>(null);
  const first = useRef(true);
  // A new page is announced as one: its title, and the focus on its content (not the first load).
  useEffect(() => {
    document.title = titleOf(route, pipeline);
    if (first.current) first.current = false;
    else content.current?.focus();
  }, [route, pipeline]);
  return (
    <>
      <button
        type="button"
        class="skip"
        onClick={() => document.getElementById("content")?.focus()}
      >
        Skip to content
      </button>
      <header class="top">
        <a href="#/" class="brand">
          stepbatch <span>console</span>
        </a>
        {pipeline && <span class="pipeline">{pipeline} · local stack</span>}
        <form method="post" action="/_console/session/end">
          <button type="submit" class="link">
            Sign out
          </button>
        </form>
      </header>
      <div id="content" tabIndex={-1} ref={content}>
        <Page route={route} />
      </div>
    </>
  );
}
