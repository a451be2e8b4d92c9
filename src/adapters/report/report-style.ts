/** The report pages' shared look (the nightly page adds its own rules after these). */
export const REPORT_CSS = `
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--card:#fff;--accent:#2563eb;--bad:#b91c1c;--warn-bg:#fffbeb;--warn-line:#f59e0b;
font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:var(--ink);background:var(--bg);
-webkit-print-color-adjust:exact;print-color-adjust:exact}
*{box-sizing:border-box}
body{margin:0;line-height:1.45;font-size:14px}
.page{max-width:1240px;margin:0 auto;padding:28px 28px 40px}
h1{font-size:26px;margin:0 0 2px;letter-spacing:-.01em}
h2{font-size:18px;margin:0 0 6px;letter-spacing:-.005em}
h3{font-size:14px;margin:0}
.h-small{font-size:14px;margin:18px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
section,.report-header{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:0 0 18px}
.subtitle{margin:0 0 14px;color:var(--muted)}
.note{color:var(--muted);margin:0 0 12px;max-width:900px}
.muted{color:var(--muted)}
.empty{color:var(--muted);font-style:italic}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px 18px;margin:0}
.facts div{border-left:3px solid var(--line);padding-left:10px}
.facts dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.problems h3{font-size:13px;margin:10px 0 4px;color:var(--bad)}
.problems ul{margin:0;padding-left:20px;font-size:13px}
.warnings{background:var(--warn-bg);border-color:var(--warn-line);border-left-width:5px}
.warnings h2{color:#92400e}
.warnings ul{margin:0;padding-left:20px}
.warnings li{margin:2px 0}
.warnings.ok{background:#f0fdf4;border-color:#86efac;color:#166534;padding:10px 22px}
.warnings.ok p{margin:0}
.group-title{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em;margin:12px 0 6px}
.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px}
.stat{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fcfcfd;cursor:default}
.stat.primary{border-color:#bfdbfe;background:#eff6ff}
.stat-name{font-size:12px;font-weight:600;color:var(--muted);letter-spacing:.02em}
.stat-name abbr{text-decoration:none}
.stat-value{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.2}
.stat-value.na,.na{color:#9ca3af}
.stat-caption{font-size:12px;color:var(--muted)}
.stat.count .stat-value{font-size:20px}
.stat.fp .stat-value,.stat.fn .stat-value{color:var(--bad)}
.stat.tp .stat-value{color:#047857}
.table-wrap{overflow-x:auto;margin:0 0 14px}
table.data{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
table.data th,table.data td{padding:6px 9px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
table.data thead th{background:#f9fafb;font-size:12px;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line);white-space:nowrap}
table.data tbody th{font-weight:600}
.per-class tbody th{white-space:nowrap}
table.data tbody tr:hover{background:#f9fafb}
table.data .num{text-align:right;white-space:nowrap}
table.data .bad{color:var(--bad);font-weight:600}
tr.no-gt,tr.no-gt th{color:#9ca3af;font-weight:400}
tr.no-gt td.bad{color:#d1a3a3}
.tag{display:inline-block;font-size:10.5px;font-weight:600;padding:0 6px;border-radius:9px;background:#f3f4f6;color:var(--muted);vertical-align:1px}
button.sort{all:unset;cursor:pointer}
button.sort:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
th[aria-sort=ascending] button.sort::after{content:' ▲';font-size:9px}
th[aria-sort=descending] button.sort::after{content:' ▼';font-size:9px}
.grid{display:grid;gap:16px}
.pr-grid{grid-template-columns:repeat(auto-fill,minmax(min(100%,300px),1fr))}
.confusion-grid{display:flex;flex-wrap:wrap;margin-top:16px}
.chart-figure.confusion{flex:0 1 auto;max-width:100%}
.chart-figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fff;break-inside:avoid;page-break-inside:avoid}
.chart-figure figcaption{display:flex;flex-wrap:wrap;align-items:baseline;gap:2px 10px;margin-bottom:6px;font-size:13px}
.chart-figure.pr figcaption{flex-direction:column;gap:0}
.chart-figure figcaption .cls{font-weight:650}
.chart-figure figcaption .meta{color:var(--muted);font-size:12px;font-variant-numeric:tabular-nums}
.chart-figure.bars{max-width:760px}
svg.chart{display:block;max-width:100%;height:auto}
.pr svg.chart{width:100%}
.worst td.boxes{min-width:190px}
.worst th.path{white-space:nowrap;word-break:normal}
.worst th.path.long{white-space:normal;overflow-wrap:anywhere;min-width:16em}
.chip{display:inline-block;white-space:nowrap;font-size:12px;padding:1px 7px;margin:1px 0;border-radius:10px;border:1px solid}
.chip.missed{background:#fef2f2;border-color:#fecaca;color:#991b1b}
.chip.fp{background:#fff7ed;border-color:#fed7aa;color:#9a3412}
.chip .iou{opacity:.8}
.footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
.facts dd{overflow-wrap:anywhere}
.inputs-table td.path{min-width:14em}
code.hash{word-break:break-all}
.class-filter{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin:0 0 12px}
.filter-caption{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;margin-right:4px}
.filter-button{cursor:pointer;font-size:12.5px;padding:3px 10px;border:1px solid var(--line);border-radius:14px;background:#fff;white-space:nowrap;user-select:none}
.filter-button:hover{border-color:var(--accent)}
.filter-button .n{opacity:.75;font-variant-numeric:tabular-nums}
.filter-empty{color:var(--muted);font-style:italic}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0;margin:0 0 10px;font-size:12.5px;color:var(--muted)}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:18px;height:12px;border:2px solid;border-radius:1px;flex:none}
.swatch.tp{border-color:#16a34a}
.swatch.fp{border-color:#dc2626}
.swatch.missed{border-style:dashed;border-color:#f59e0b}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,280px),1fr));gap:14px;margin:0 0 16px}
.shot{margin:0;border:1px solid var(--line);border-radius:8px;overflow:hidden;background:#fff;break-inside:avoid;page-break-inside:avoid}
.shot-picture{position:relative;display:block;line-height:0;background:#111}
.shot-picture img{display:block;width:100%;height:auto}
.shot-boxes{position:absolute;inset:0;width:100%;height:100%;overflow:hidden}
.shot-boxes .box rect{fill:none;stroke-width:1.6;vector-effect:non-scaling-stroke}
.shot-boxes .box rect.halo{stroke:rgba(0,0,0,.55);stroke-width:3.4}
.shot-boxes text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;font-weight:600}
.shot figcaption{padding:8px 10px;font-size:12.5px;display:flex;flex-direction:column;gap:2px}
.shot .counts{font-variant-numeric:tabular-nums}
.c-tp{color:#047857;font-weight:600}
.c-fp,.c-fn{color:var(--bad);font-weight:600}
.overlay-link{color:var(--accent)}
@media (max-width:640px){.page{padding:12px}section,.report-header{padding:14px}
h1{font-size:22px}
.chart-figure.bars,.chart-figure.confusion{overflow-x:auto}
.chart-figure.bars svg.chart,.chart-figure.confusion svg.chart{max-width:none}
.facts{grid-template-columns:repeat(auto-fill,minmax(140px,1fr))}}
@media print{
:root{background:#fff}
body{font-size:11px}
.page{max-width:none;padding:0}
section,.report-header{border:none;border-radius:0;padding:6px 0 10px;margin:0 0 10px;border-bottom:1px solid var(--line)}
.warnings{border:1px solid var(--warn-line);padding:8px 12px}
.table-wrap{overflow:visible}
thead{display:table-header-group}
tr,.stat{break-inside:avoid}
#pr-curves,#attributes{break-before:page}
.pr-grid{grid-template-columns:repeat(3,1fr)}
.stats{grid-template-columns:repeat(6,1fr);gap:6px}
.stats.attr{grid-template-columns:repeat(4,1fr)}
.stat{padding:6px 8px}
.stat-value{font-size:18px}
.stat.count .stat-value{font-size:16px}
.worst th.path{white-space:normal;overflow-wrap:anywhere}
.worst td.boxes{min-width:0}
.chip{white-space:normal}
button.sort::after{content:''!important}
.class-filter{display:none}
.gallery{grid-template-columns:repeat(3,1fr)}
}
`.trim();
