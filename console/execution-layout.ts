/**
 * Lays out a state machine's definition (ASL) as the Step Functions console draws it: states top
 * to bottom in the order they run, the states a Catch leads to beside the path, and a Map's
 * iteration drawn inside the Map. Plain geometry, no DOM: the page draws it as SVG.
 */

interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Next?: string }[];
  readonly Catch?: readonly { readonly Next?: string }[];
  readonly ItemProcessor?: AslScope;
  readonly Iterator?: AslScope;
  readonly Branches?: readonly AslScope[];
}

export interface AslScope {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

export interface LayoutNode {
  /** The state's name; "Start" and "End" markers have `marker` set. */
  readonly name: string;
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Set on the Start and End markers, which are not states. */
  readonly marker?: boolean;
  /** Set on a Map or Parallel: its inner states are drawn inside it. */
  readonly container?: boolean;
}

export interface LayoutEdge {
  readonly from: string;
  readonly to: string;
  /** "catch" edges are drawn dashed, as the console draws the way an error is caught. */
  readonly kind: "next" | "catch";
  /** An SVG path. */
  readonly path: string;
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly LayoutNode[];
  readonly edges: readonly LayoutEdge[];
}

export const STATE_WIDTH = 200;
export const STATE_HEIGHT = 52;
const MARKER = { width: 72, height: 28 };
const GAP = { x: 40, y: 36 };
const CONTAINER_HEADER = 34;
const CONTAINER_PADDING = 20;

/** The whole machine: a Start marker, the states, and an End marker after every state that ends it. */
export function layoutMachine(definition: AslScope): Layout {
  const terminal = Object.entries(definition.States)
    .filter(([, state]) => state.End || state.Type === "Succeed" || state.Type === "Fail")
    .map(([name]) => name);
  return layoutScope(definition, { start: true, endAfter: terminal });
}

function layoutScope(
  scope: AslScope,
  markers: { start?: boolean; endAfter?: readonly string[] } = {},
): Layout {
  const names = Object.keys(scope.States);
  const edges = names.flatMap((name) => edgesOf(name, scope.States[name] as AslState));

  // Rank: the longest way from the start, ignoring the ways back (a Choice that loops).
  const rank = new Map<string, number>([[scope.StartAt, 0]]);
  const order: string[] = [];
  const visit = (name: string, onPath: Set<string>) => {
    if (!order.includes(name)) order.push(name);
    onPath.add(name);
    for (const edge of edges.filter((e) => e.from === name && scope.States[e.to])) {
      if (onPath.has(edge.to)) continue;
      const next = (rank.get(name) ?? 0) + 1;
      if ((rank.get(edge.to) ?? -1) < next) {
        rank.set(edge.to, next);
        visit(edge.to, onPath);
      }
    }
    onPath.delete(name);
  };
  visit(scope.StartAt, new Set());
  for (const name of names) if (!rank.has(name)) rank.set(name, 0); // unreachable: drawn on top

  // Column: the way Next leads from the start stays in column 0; a state reached only by a catch
  // goes right of where it is caught; others follow the state they come from.
  const main = new Set<string>();
  for (let at: string | undefined = scope.StartAt; at && !main.has(at); at = scope.States[at]?.Next)
    main.add(at);
  const column = new Map<string, number>();
  const taken = new Set<string>();
  const place = (name: string, preferred: number) => {
    let col = preferred;
    while (taken.has(`${rank.get(name)}:${col}`)) col++;
    column.set(name, col);
    taken.add(`${rank.get(name)}:${col}`);
  };
  for (const name of order.filter((n) => main.has(n))) place(name, 0);
  const rest = [...order.filter((n) => !main.has(n)), ...names.filter((n) => !order.includes(n))];
  for (const name of rest.sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0))) {
    const into = edges.filter((e) => e.to === name && column.has(e.from));
    const from = into[0];
    const onlyCaught = into.length > 0 && into.every((e) => e.kind === "catch");
    place(name, from ? (column.get(from.from) ?? 0) + (onlyCaught ? 1 : 0) : 0);
  }

  // Sizes: a Map holds its iteration's layout, a Parallel its branches side by side.
  const inner = new Map<string, Layout>();
  for (const name of names) {
    const state = scope.States[name] as AslState;
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) inner.set(name, layoutScope(nested));
    else if (state.Branches?.length)
      inner.set(name, sideBySide(state.Branches.map((b) => layoutScope(b))));
  }
  const sizeOf = (name: string) => {
    const nested = inner.get(name);
    return nested
      ? {
          width: Math.max(STATE_WIDTH, nested.width + 2 * CONTAINER_PADDING),
          height: nested.height + CONTAINER_HEADER + 2 * CONTAINER_PADDING,
        }
      : { width: STATE_WIDTH, height: STATE_HEIGHT };
  };

  const offset = markers.start ? MARKER.height + GAP.y : 0;
  const rows = Math.max(...[...rank.values()]) + 1;
  const columns = Math.max(...[...column.values()]) + 1;
  const rowHeight = Array.from({ length: rows }, (_, r) =>
    Math.max(0, ...names.filter((n) => rank.get(n) === r).map((n) => sizeOf(n).height)),
  );
  const columnWidth = Array.from({ length: columns }, (_, c) =>
    Math.max(0, ...names.filter((n) => column.get(n) === c).map((n) => sizeOf(n).width)),
  );
  const sum = (values: number[], upTo: number, gap: number) =>
    values.slice(0, upTo).reduce((total, v) => total + v + gap, 0);

  const nodes: LayoutNode[] = [];
  const box = new Map<string, LayoutNode>();
  for (const name of names) {
    const state = scope.States[name] as AslState;
    const r = rank.get(name) ?? 0;
    const c = column.get(name) ?? 0;
    const { width, height } = sizeOf(name);
    const node: LayoutNode = {
      name,
      type: state.Type,
      x: sum(columnWidth, c, GAP.x) + ((columnWidth[c] ?? width) - width) / 2,
      y: offset + sum(rowHeight, r, GAP.y),
      width,
      height,
      ...(inner.has(name) ? { container: true } : {}),
    };
    nodes.push(node);
    box.set(name, node);
    const nested = inner.get(name);
    if (nested) {
      const dx = node.x + (width - nested.width) / 2;
      const dy = node.y + CONTAINER_HEADER + CONTAINER_PADDING;
      nodes.push(...nested.nodes.map((n) => ({ ...n, x: n.x + dx, y: n.y + dy })));
    }
  }

  const width = sum(columnWidth, columns, GAP.x) - GAP.x;
  const drawn: LayoutEdge[] = edges
    .filter((e) => box.has(e.from) && box.has(e.to))
    .map((e) => ({
      ...e,
      path: pathBetween(box.get(e.from) as LayoutNode, box.get(e.to) as LayoutNode, e.kind),
    }));
  let height = offset + sum(rowHeight, rows, GAP.y) - GAP.y;

  // The nested layouts' own edges, moved with their container.
  for (const name of names) {
    const nested = inner.get(name);
    const node = box.get(name);
    if (!nested || !node) continue;
    const dx = node.x + (node.width - nested.width) / 2;
    const dy = node.y + CONTAINER_HEADER + CONTAINER_PADDING;
    drawn.push(...nested.edges.map((e) => ({ ...e, path: translate(e.path, dx, dy) })));
  }

  const first = box.get(scope.StartAt);
  if (markers.start && first) {
    const start = marker("Start", first.x + first.width / 2, 0);
    nodes.push(start);
    drawn.push({
      from: "Start",
      to: first.name,
      kind: "next",
      path: pathBetween(start, first, "next"),
    });
  }
  if (markers.endAfter?.length) {
    const last = markers.endAfter.map((n) => box.get(n)).filter((n): n is LayoutNode => !!n);
    const bottom = Math.max(...last.map((n) => n.y + n.height));
    const mainEnd = last.find((n) => (column.get(n.name) ?? 0) === 0) ?? last[0];
    if (mainEnd) {
      const end = marker("End", mainEnd.x + mainEnd.width / 2, bottom + GAP.y);
      nodes.push(end);
      for (const n of last)
        drawn.push({ from: n.name, to: "End", kind: "next", path: pathBetween(n, end, "next") });
      height = end.y + end.height;
    }
  }
  return { width: Math.max(width, MARKER.width), height, nodes, edges: drawn };
}

function edgesOf(name: string, state: AslState): Omit<LayoutEdge, "path">[] {
  const next = [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next)];
  return [
    ...next
      .filter((to): to is string => !!to)
      .map((to) => ({ from: name, to, kind: "next" as const })),
    ...(state.Catch ?? [])
      .map((c) => c.Next)
      .filter((to): to is string => !!to)
      .map((to) => ({ from: name, to, kind: "catch" as const })),
  ].filter((edge, i, all) => all.findIndex((e) => e.to === edge.to) === i);
}

function sideBySide(layouts: readonly Layout[]): Layout {
  let x = 0;
  const nodes: LayoutNode[] = [];
  const edges: LayoutEdge[] = [];
  for (const layout of layouts) {
    nodes.push(...layout.nodes.map((n) => ({ ...n, x: n.x + x })));
    edges.push(...layout.edges.map((e) => ({ ...e, path: translate(e.path, x, 0) })));
    x += layout.width + GAP.x;
  }
  return {
    width: Math.max(0, x - GAP.x),
    height: Math.max(0, ...layouts.map((l) => l.height)),
    nodes,
    edges,
  };
}

function marker(name: string, centreX: number, y: number): LayoutNode {
  return { name, type: name, marker: true, x: centreX - MARKER.width / 2, y, ...MARKER };
}

/** Down the middle from one box to the next; a catch leaves from the right side. */
function pathBetween(from: LayoutNode, to: LayoutNode, kind: LayoutEdge["kind"]): string {
  const end = point(to.x + to.width / 2, to.y);
  if (kind === "catch" || to.y <= from.y) {
    const x1 = from.x + from.width;
    const y1 = from.y + from.height / 2;
    return `M${point(x1, y1)} C${point(x1 + 40, y1)} ${point(to.x + to.width / 2, to.y - 40)} ${end}`;
  }
  const x1 = from.x + from.width / 2;
  const y1 = from.y + from.height;
  const bend = (to.y - y1) / 2;
  return x1 === to.x + to.width / 2
    ? `M${point(x1, y1)} L${end}`
    : `M${point(x1, y1)} C${point(x1, y1 + bend)} ${point(to.x + to.width / 2, to.y - bend)} ${end}`;
}

const point = (x: number, y: number) => `${Math.round(x * 10) / 10},${Math.round(y * 10) / 10}`;

function translate(path: string, dx: number, dy: number): string {
  return path.replace(/(-?[\d.]+),(-?[\d.]+)/g, (_, x: string, y: string) =>
    point(Number(x) + dx, Number(y) + dy),
  );
}
