import { describe, expect, it } from "vitest";
import {
  type AslScope,
  type LayoutNode,
  layoutMachine,
} from "../../../console/execution-layout.ts";
import { stateMachineDefinition, synthStack } from "../../helpers/synth.ts";

const task = (next?: string, catchTo?: string) => ({
  Type: "Task",
  ...(next ? { Next: next } : { End: true }),
  ...(catchTo ? { Catch: [{ Next: catchTo }] } : {}),
});

const overlap = (a: LayoutNode, b: LayoutNode) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Two boxes overlap only when one holds the other (a Map and its iteration's states). */
function holds(outer: LayoutNode, inner: LayoutNode): boolean {
  return (
    outer.x <= inner.x &&
    outer.y <= inner.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

describe("the execution's layout", () => {
  it("puts the states in the order they run, top to bottom, with Start above and End below", () => {
    // Prepare
    const machine: AslScope = { StartAt: "A", States: { A: task("B"), B: task("C"), C: task() } };
    // Act
    const layout = layoutMachine(machine);
    const y = (name: string) => layout.nodes.find((n) => n.name === name)?.y ?? Number.NaN;
    // Assess
    expect(y("Start")).toBeLessThan(y("A"));
    expect(y("A")).toBeLessThan(y("B"));
    expect(y("B")).toBeLessThan(y("C"));
    expect(y("C")).toBeLessThan(y("End"));
    expect(layout.edges.map((e) => `${e.from}->${e.to}`)).toEqual([
      "A->B",
      "B->C",
      "Start->A",
      "C->End",
    ]);
  });

  it("puts a state reached only by a Catch beside the path, and draws the way there dashed", () => {
    // Prepare
    const machine: AslScope = {
      StartAt: "Work",
      States: {
        Work: task("Done", "Recover"),
        Recover: { Type: "Fail" },
        Done: { Type: "Succeed" },
      },
    };
    // Act
    const layout = layoutMachine(machine);
    const node = (name: string) => layout.nodes.find((n) => n.name === name) as LayoutNode;
    // Assess
    expect(node("Recover").x).toBeGreaterThan(node("Done").x);
    expect(layout.edges.find((e) => e.to === "Recover")?.kind).toBe("catch");
    expect(
      layout.edges
        .filter((e) => e.to === "End")
        .map((e) => e.from)
        .sort(),
    ).toEqual(["Done", "Recover"]);
  });

  it("draws the stack's own state machine with every phase inside the Map and no two states on top of each other", () => {
    // Prepare
    const asl = stateMachineDefinition(synthStack().template) as AslScope;
    // Act
    const layout = layoutMachine(asl);
    const map = layout.nodes.find((n) => n.container) as LayoutNode;
    const states = layout.nodes.filter((n) => n !== map);
    // Assess
    for (const phase of ["Ingest", "Digest", "Commit", "Job cancelled", "Record job failure"])
      expect(holds(map, states.find((n) => n.name === phase) as LayoutNode), phase).toBe(true);
    for (const a of states)
      for (const b of states)
        if (a !== b) expect(overlap(a, b), `${a.name} over ${b.name}`).toBe(false);
    for (const n of layout.nodes) expect(n.x + n.width).toBeLessThanOrEqual(layout.width);
  });
});
