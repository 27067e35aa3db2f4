// Renders a report in the format an `--output` path's extension asks for.
import { renderHtml } from "./report-html.ts";
import { renderJunit } from "./report-junit.ts";
import { renderMarkdown } from "./report-markdown.ts";
import type { EvalReport, ReportFormat } from "./report.ts";

export function renderReport(report: EvalReport, format: ReportFormat): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(report, null, 2)}\n`;
    case "md":
      return renderMarkdown(report);
    case "html":
      return renderHtml(report);
    case "xml":
      return renderJunit(report);
  }
}
