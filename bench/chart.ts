/** A small grouped bar chart as SVG: no dependency, readable in any browser or Markdown viewer. */
export function barChart(options: {
  title: string;
  unit: string;
  groups: { label: string; values: { name: string; value: number }[] }[];
  target?: { label: string; value: number };
}): string {
  const width = 720;
  const height = 360;
  const margin = { top: 50, right: 20, bottom: 60, left: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = options.groups.flatMap((g) => g.values.map((v) => v.value));
  const max = Math.max(...all, options.target?.value ?? 0) * 1.15 || 1;
  const y = (v: number) => margin.top + plotH - (v / max) * plotH;
  const colors = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2"];
  const groupW = plotW / options.groups.length;
  const series = options.groups[0]?.values.map((v) => v.name) ?? [];
  const barW = (groupW * 0.7) / Math.max(series.length, 1);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16">${escapeXml(options.title)}</text>`,
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${width - margin.right}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    parts.push(
      `<text x="${margin.left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`,
      `<line x1="${margin.left}" y1="${y(v)}" x2="${width - margin.right}" y2="${y(v)}" stroke="#eee"/>`,
    );
  }
  parts.push(
    `<text x="16" y="${margin.top + plotH / 2}" transform="rotate(-90 16 ${margin.top + plotH / 2})" text-anchor="middle">${escapeXml(options.unit)}</text>`,
  );
  options.groups.forEach((group, gi) => {
    const x0 = margin.left + gi * groupW + groupW * 0.15;
    group.values.forEach((v, si) => {
      const x = x0 + si * barW;
      parts.push(
        `<rect x="${x}" y="${y(v.value)}" width="${barW - 2}" height="${margin.top + plotH - y(v.value)}" fill="${colors[si % colors.length]}"/>`,
        `<text x="${x + barW / 2 - 1}" y="${y(v.value) - 4}" text-anchor="middle" font-size="10">${v.value.toFixed(0)}</text>`,
      );
    });
    parts.push(
      `<text x="${margin.left + gi * groupW + groupW / 2}" y="${margin.top + plotH + 20}" text-anchor="middle">${escapeXml(group.label)}</text>`,
    );
  });
  if (options.target) {
    parts.push(
      `<line x1="${margin.left}" y1="${y(options.target.value)}" x2="${width - margin.right}" y2="${y(options.target.value)}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${width - margin.right}" y="${y(options.target.value) - 4}" text-anchor="end" fill="#c00">${escapeXml(options.target.label)}</text>`,
    );
  }
  series.forEach((name, si) => {
    const x = margin.left + si * 90;
    parts.push(
      `<rect x="${x}" y="${height - 22}" width="12" height="12" fill="${colors[si % colors.length]}"/>`,
      `<text x="${x + 16}" y="${height - 12}">${escapeXml(name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
