/**
 * Builders of Grafana panel JSON (dashboard schemaVersion 39). Every data panel reads
 * from the dashboard's `datasource` variable and carries a unit.
 */

/** Grafana datasource reference bound to the dashboard variable `datasource`. */
export const DATASOURCE = Object.freeze({ type: "prometheus", uid: "${datasource}" });

/** Width of a Grafana dashboard in grid columns. */
export const GRID_COLUMNS = 24;

/** One PromQL query of a panel and the legend of its series. */
export interface PanelQuery {
  expr: string;
  /** Grafana legend template, e.g. `{{gpu_type}}`. */
  legend: string;
}

/** Content of a data panel. The layout decides its position. */
export interface PanelSpec {
  kind: "timeseries" | "stat";
  title: string;
  /** Shown in the panel's info tooltip: what the number means. */
  description: string;
  /** Grafana unit id, e.g. `currencyUSD`, `s`, `percentunit`, `short`. */
  unit: string;
  queries: PanelQuery[];
  /** Grid columns; 12 (half the width) for time series and 6 for stats by default. */
  width?: number;
}

/** Position of a panel in grid units. */
export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Builds the JSON of a data panel. */
export function buildDataPanel(spec: PanelSpec, id: number, gridPos: GridPos): Record<string, unknown> {
  const targets = spec.queries.map((query, index) => ({
    refId: String.fromCharCode(65 + index),
    datasource: DATASOURCE,
    expr: query.expr,
    legendFormat: query.legend,
    ...(spec.kind === "stat" ? { instant: true, range: false } : { range: true }),
  }));

  return {
    id,
    type: spec.kind,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: { defaults: { unit: spec.unit, min: 0 }, overrides: [] },
    options: spec.kind === "stat" ? STAT_OPTIONS : TIMESERIES_OPTIONS,
    targets,
  };
}

/** Builds the JSON of an expanded row header spanning the dashboard's width. */
export function buildRowPanel(title: string, id: number, y: number): Record<string, unknown> {
  return { id, type: "row", title, collapsed: false, gridPos: { x: 0, y, w: GRID_COLUMNS, h: 1 }, panels: [] };
}

const STAT_OPTIONS = Object.freeze({
  reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
  colorMode: "value",
  graphMode: "none",
  justifyMode: "auto",
  orientation: "auto",
  textMode: "auto",
});

const TIMESERIES_OPTIONS = Object.freeze({
  legend: { displayMode: "list", placement: "bottom", showLegend: true, calcs: [] },
  tooltip: { mode: "multi", sort: "desc" },
});
