/* 数据看板: draws each <div class="chart" data-chart="NAME"> of the page with the vendored ECharts, from the page's
   <script type="application/json" id="dashboard-data"> block (no inline script: the CSP forbids it).
   Each chart's data: {kind: "bar" | "line", horizontal, percent, labels: [...], titles: [...] (the tooltip's heading
   for each label, if not the label), series: [{name, color, data: [...]}]}. The page's tables hold the same figures
   for anyone without JavaScript, and for screen readers. */
(function () {
  "use strict";
  var FONT = '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", ' +
    "sans-serif";  // app.css's
  var ROWS_SHOWN = 15;  // a horizontal chart of more rows (a town's grids) scrolls with a slider
  var ROW_HEIGHT = 30;

  var source = document.getElementById("dashboard-data");
  if (!source || !window.echarts) { return; }
  var specs = JSON.parse(source.textContent);

  function height(spec) {
    if (!spec.horizontal) { return 300; }
    var rows = Math.min(spec.labels.length, ROWS_SHOWN);
    return Math.max(200, rows * ROW_HEIGHT * Math.max(1, spec.series.length * 0.8) + 90);
  }

  function option(spec) {
    var many = spec.horizontal && spec.labels.length > ROWS_SHOWN;
    var labels = { type: "category", data: spec.labels, inverse: !!spec.horizontal,
                   axisLabel: { hideOverlap: true, width: 110, overflow: "truncate" } };
    var values = { type: "value", minInterval: 1 };
    if (spec.percent) {
      values.max = 100;
      values.axisLabel = { formatter: "{value}%" };
    }
    var result = {
      animation: false,
      textStyle: { fontFamily: FONT },
      legend: { top: 8, show: spec.series.length > 1 },
      grid: { left: 8, right: many ? 40 : 16, top: spec.series.length > 1 ? 44 : 16, bottom: 8 },
      tooltip: {
        trigger: "axis",
        confine: true,
        // Drawn on the canvas: the HTML tooltip's markup carries style attributes, which the CSP refuses.
        renderMode: "richText",
        valueFormatter: spec.percent ? function (value) { return value + "%"; } : undefined
      },
      xAxis: spec.horizontal ? values : labels,
      yAxis: spec.horizontal ? labels : values,
      series: spec.series.map(function (series) {
        return { name: series.name, type: spec.kind, data: series.data, itemStyle: { color: series.color },
                 lineStyle: { color: series.color }, symbolSize: 8, barMaxWidth: 28 };
      })
    };
    if (spec.titles) {
      result.tooltip.formatter = function (items) {
        var lines = [spec.titles[items[0].dataIndex]];
        items.forEach(function (item) {
          lines.push(item.marker + item.seriesName + "：" + item.value + (spec.percent ? "%" : ""));
        });
        return lines.join("\n");
      };
    }
    if (many) {
      result.dataZoom = [{ type: "slider", yAxisIndex: 0, startValue: 0, endValue: ROWS_SHOWN - 1, right: 4,
                           width: 20, showDetail: false, zoomLock: true, brushSelect: false }];
    }
    return result;
  }

  var drawn = [];
  Array.prototype.forEach.call(document.querySelectorAll(".chart[data-chart]"), function (box) {
    var spec = specs[box.getAttribute("data-chart")];
    if (!spec) { return; }
    box.style.height = height(spec) + "px";
    var chart = window.echarts.init(box, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    drawn.push(chart);
  });
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { drawn.forEach(function (chart) { chart.resize(); }); }, 100);
  });
}());
