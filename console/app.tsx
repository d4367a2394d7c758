import { useRoute } from "./hooks.ts";
import { BatchPage } from "./pages/batch.tsx";
import { BatchesPage } from "./pages/batches.tsx";
import { JobPage } from "./pages/job.tsx";

/** `#/`, `#/batches/<id>`, `#/batches/<id>/jobs/<jobId>`: pages are addresses, so they can be shared and reloaded. */
function Page({ route }: { route: string }) {
  const parts = route.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "batches" && parts[1] && parts[2] === "jobs" && parts[3])
    return <JobPage batchId={parts[1]} jobId={parts[3]} />;
  if (parts[0] === "batches" && parts[1]) return <BatchPage batchId={parts[1]} />;
  return <BatchesPage />;
}

export function App({ pipeline }: { pipeline: string }) {
  const route = useRoute();
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
      <div id="content" tabIndex={-1}>
        <Page route={route} />
      </div>
    </>
  );
}
