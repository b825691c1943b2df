// A small SVG line chart of checkup values over time, with the 保健指導判定値 (guidance) as a dashed line.
// Drawn for the width it is shown at: a phone gets fewer ticks and larger text (CSS sets the text size).
"use strict";
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}
function lineChart({ title, unit, series, guidance }) {
  const narrow = window.innerWidth < 640;
  const width = narrow ? 600 : 800, height = narrow ? 420 : 300, left = narrow ? 90 : 60, right = 20, top = 20;
  const bottom = narrow ? 60 : 40;
  const points = series.flatMap((s) => s.points);
  const values = points.map((p) => p.value).concat(guidance ? [guidance] : []);
  const low = Math.floor(Math.min(...values) * 0.95), high = Math.ceil(Math.max(...values) * 1.05);
  const times = points.map((p) => p.at.getTime());
  const t0 = Math.min(...times), t1 = Math.max(...times) || t0 + 1;
  const x = (t) => left + ((t - t0) / Math.max(t1 - t0, 1)) * (width - left - right);
  const y = (v) => top + (1 - (v - low) / Math.max(high - low, 1e-9)) * (height - top - bottom);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": `${title}の推移` });
  root.append(svg("title", {}, `${title}の推移 (${unit})`));
  for (const v of [low, (low + high) / 2, high]) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#dde3e8" }));
    root.append(svg("text", { x: left - 8, y: y(v) + 5, "text-anchor": "end" }, (Math.round(v * 10) / 10).toString()));
  }
  if (guidance) {
    root.append(svg("line", { x1: left, x2: width - right, y1: y(guidance), y2: y(guidance), stroke: "#c77700",
      "stroke-dasharray": "8 6", class: "guidance" }));
  }
  const colours = ["#0b4f8a", "#b3261e"];
  series.forEach((s, index) => {
    const sorted = [...s.points].sort((a, b) => a.at - b.at);
    const group = svg("g", { class: `series series-${s.key}` });
    group.append(svg("polyline", { fill: "none", stroke: colours[index], "stroke-width": 3,
      points: sorted.map((p) => `${x(p.at.getTime())},${y(p.value)}`).join(" ") }));
    for (const p of sorted) group.append(svg("circle", { class: "point", cx: x(p.at.getTime()), cy: y(p.value), r: 6, fill: colours[index] }));
    root.append(group);
  });
  const years = [...new Set(points.map((p) => p.at.getFullYear()))].sort();
  years.forEach((year, index) => {
    const at = points.filter((p) => p.at.getFullYear() === year)[0].at.getTime();
    const anchor = years.length > 1 && index === years.length - 1 ? "end" : index === 0 ? "start" : "middle";
    root.append(svg("text", { x: x(at), y: height - bottom / 3, "text-anchor": anchor }, `${year}年`));
  });
  const legend = el("p", { class: "legend" }, series.map((s, i) => el("span", { class: `nowrap legend-${i}`, text: `● ${s.label} ` })),
    guidance ? el("span", { class: "nowrap legend-guidance", text: `--- 保健指導判定値 ${guidance}` }) : null);
  return el("figure", { class: "panel" }, el("figcaption", { text: `${title} (${unit})` }), root, legend);
}
