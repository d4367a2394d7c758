import { z } from "zod";
import { describeIssues, submitBatchSchema } from "./schemas.ts";

/** One scheduled batch, as written in the config's `schedules`. */
const scheduleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "name must be 1 to 64 letters, digits, '-' or '_'"),
    description: z.string().max(512).optional(),
    expression: z
      .string()
      .regex(
        /^(cron\(.+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|at\(.+\))$/,
        "expression must be cron(...), rate(N unit) or at(...)",
      ),
    timezone: z.string().default("UTC"),
    enabled: z.boolean().default(true),
    batch: submitBatchSchema,
  })
  .strict();

const schedulesFileSchema = z
  .object({ $comment: z.string().optional(), schedules: z.array(scheduleSchema) })
  .strict();

export type ScheduleDefinition = z.infer<typeof scheduleSchema>;

/** Validates the schedules configuration; the message names the schedule and the field at fault. */
export function parseSchedules(
  raw: unknown,
  source = "the config's schedules",
): ScheduleDefinition[] {
  const parsed = schedulesFileSchema.safeParse(raw);
  if (!parsed.success) {
    const messages = parsed.error.issues.slice(0, 5).map((issue) => {
      const [field, index] = issue.path;
      const name =
        field === "schedules" && typeof index === "number"
          ? (raw as { schedules?: { name?: string }[] }).schedules?.[index]?.name
          : undefined;
      if (!name) return describeIssues([issue]);
      return `schedule '${name}': ${describeIssues([{ ...issue, path: issue.path.slice(2) }])}`;
    });
    throw new Error(`${source} is invalid: ${messages.join("; ")}`);
  }
  const names = new Set<string>();
  for (const schedule of parsed.data.schedules) {
    if (names.has(schedule.name))
      throw new Error(`${source} is invalid: schedule name '${schedule.name}' is used twice`);
    names.add(schedule.name);
    if (!isTimezone(schedule.timezone))
      throw new Error(
        `${source} is invalid: schedule '${schedule.name}': timezone '${schedule.timezone}' is not an IANA time zone`,
      );
  }
  return parsed.data.schedules;
}

function isTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** What the scheduler sends the scheduled-submit Lambda. */
export const scheduledStartSchema = z.object({
  scheduleName: z.string().min(1),
  /** `<aws.scheduler.scheduled-time>`: the same for every retry of one occurrence. */
  scheduledTime: z.string().min(1),
  batch: submitBatchSchema,
});
