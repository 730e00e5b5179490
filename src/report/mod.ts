export * from "./model.ts";
export { renderPage } from "./html.ts";
export { writeIndex } from "./index_page.ts";
export type { IndexOptions } from "./index_page.ts";
export { REPORT_PAGE, reportStageKind } from "./stage.ts";
export type { ReportParams } from "./stage.ts";
export type { ChartSpec, ClaimRowSpec, FigureSpec, Section, SeriesSpec, TableSpec } from "./sections.ts";
export { chartJsSource } from "./chartjs.ts";
