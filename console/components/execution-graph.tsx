import type { ExecutionView, StateActivity, StateStatus } from "../api.ts";
import { type LayoutNode, layoutMachine } from "../execution-layout.ts";

const LEGEND: readonly [StateStatus, string][] = [
  ["in-progress", "In progress"],
  ["succeeded", "Succeeded"],
  ["failed", "Failed"],
  ["caught-error", "Caught error"],
  ["stopped", "Stopped"],
  ["not-started", "Not started"],
];

/** What a state's box says under its name: how many visits are where. */
function countsOf(activity: StateActivity | undefined, container: boolean): string {
  if (!activity) return "";
  // Visits still in a state once the execution has ended were stopped with it.
  const stillIn = activity.status === "stopped" ? "stopped" : "running";
  const parts = [
    activity.running > 0 ? `${activity.running} ${stillIn}` : "",
    activity.succeeded > 0 && (container || activity.entered > 1)
      ? `${activity.succeeded} done`
      : "",
    activity.caught > 0 ? `${activity.caught} caught` : "",
    activity.failed - activity.retried - activity.caught > 0
      ? `${activity.failed - activity.retried - activity.caught} failed`
      : "",
    activity.retried > 0 ? `${activity.retried} retried` : "",
  ];
  return parts.filter(Boolean).join(" · ");
}

const short = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

function StateBox({ node, activity }: { node: LayoutNode; activity: StateActivity | undefined }) {
  const status = node.marker ? "marker" : (activity?.status ?? "not-started");
  const counts = countsOf(activity, Boolean(node.container));
  const label = node.marker
    ? node.name
    : `${node.name} (${node.type}): ${status.replace("-", " ")}${counts ? `, ${counts}` : ""}`;
  return (
    <g
      class={`state state--${status}${node.container ? " state--container" : ""}`}
      data-state={node.name}
    >
      <title>{label}</title>
      <rect
        x={node.x}
        y={node.y}
        width={node.width}
        height={node.height}
        rx={node.marker ? node.height / 2 : 6}
      />
      {node.marker ? (
        <text x={node.x + node.width / 2} y={node.y + node.height / 2 + 5} text-anchor="middle">
          {node.name}
        </text>
      ) : (
        <>
          <text class="state__name" x={node.x + 12} y={node.y + 21}>
            {short(node.name, node.container ? 40 : 24)}
          </text>
          <text class="state__detail" x={node.x + 12} y={node.y + 39}>
            {counts || node.type}
          </text>
        </>
      )}
    </g>
  );
}

/** The execution drawn as the Step Functions console draws it, each state coloured by what it does. */
export function ExecutionGraph({
  execution,
  batchEnded,
}: {
  execution: ExecutionView;
  /** A batch that ended without an execution (cancelled while queued) never starts one. */
  batchEnded: boolean;
}) {
  const layout = layoutMachine(execution.definition);
  const containers = layout.nodes.filter((n) => n.container);
  const states = layout.nodes.filter((n) => !n.container);
  return (
    <figure class="graph">
      <figcaption>
        Execution <code>{execution.executionArn.split(":").pop()}</code>:{" "}
        {execution.status === "NOT_STARTED"
          ? batchEnded
            ? "never started (the batch ended before it did)"
            : "not started yet"
          : execution.status.toLowerCase().replace("_", " ")}
        {execution.error ? ` (${execution.error})` : ""}
        {execution.historyKept
          ? ""
          : ". Its state-by-state history was not kept across a restart of the local stack"}
      </figcaption>
      <div class="graph__canvas">
        <svg
          role="img"
          aria-label="The batch's state machine, each state coloured by what it is doing (listed below)"
          viewBox={`-2 -2 ${layout.width + 4} ${layout.height + 4}`}
          width={layout.width + 4}
          height={layout.height + 4}
        >
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto"
            >
              <path d="M0,0 L10,5 L0,10 z" class="graph__arrowhead" />
            </marker>
          </defs>
          {containers.map((node) => (
            <StateBox key={node.name} node={node} activity={execution.states[node.name]} />
          ))}
          {layout.edges.map((edge) => (
            <path
              key={`${edge.from}->${edge.to}`}
              d={edge.path}
              class={`edge edge--${edge.kind}`}
              marker-end="url(#arrow)"
            />
          ))}
          {states.map((node) => (
            <StateBox key={node.name} node={node} activity={execution.states[node.name]} />
          ))}
        </svg>
      </div>
      <ul class="legend" aria-label="Legend">
        {LEGEND.map(([status, text]) => (
          <li key={status}>
            <span class={`swatch swatch--${status}`} aria-hidden="true" /> {text}
          </li>
        ))}
      </ul>
      <details class="graph__list">
        <summary>States as a list</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Still in it</th>
              <th scope="col">Done</th>
              <th scope="col">Caught</th>
            </tr>
          </thead>
          <tbody>
            {layout.nodes
              .filter((n) => !n.marker)
              .map((node) => {
                const activity = execution.states[node.name];
                return (
                  <tr key={node.name}>
                    <td>{node.name}</td>
                    <td>{node.type}</td>
                    <td>{(activity?.status ?? "not-started").replace("-", " ")}</td>
                    <td>{activity?.running ?? 0}</td>
                    <td>{activity?.succeeded ?? 0}</td>
                    <td>{activity?.caught ?? 0}</td>
                  </tr>
                );
              })}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
