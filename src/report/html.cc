// The report page: one HTML file with the plotting libraries and every plot's spec inlined.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "simtune/build_paths.h"
#include "simtune/files.h"
#include "simtune/report.h"
#include "simtune/strings.h"
#include "src/report/charts.h"

namespace simtune::report {
namespace {

using nlohmann::json;

constexpr const char* kLibraries[] = {"vega.min.js", "vega-lite.min.js", "vega-embed.min.js"};

constexpr const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 16px 28px 48px; color: #222; line-height: 1.45; }
h1 { margin-bottom: 4px; } h2 { margin-top: 40px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { margin: 24px 0 6px; } .meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; display: block; overflow-x: auto;
        max-width: 100%; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
th { background: #f3f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.caption { color: #333; max-width: 980px; margin: 4px 0 16px; }
.note { color: #666; font-style: italic; }
.flag { color: #b42318; font-weight: 600; } .ok { color: #137a6b; font-weight: 600; }
.plot { margin: 6px 0; } .plot-error { color: #b42318; white-space: pre-wrap; }
code { background: #f3f4f6; padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
nav a { margin-right: 14px; }
)";

// Script errors anywhere on the page (the libraries included) are counted on <body>.
constexpr const char* kCatchErrors = R"(
window.SIMTUNE_ERRORS = [];
window.addEventListener("error", function (e) { SIMTUNE_ERRORS.push(String(e.message)); });
window.addEventListener("unhandledrejection", function (e) { SIMTUNE_ERRORS.push(String(e.reason)); });
)";

// Renders every spec with vega-embed (SVG, so the page holds inspectable elements) and
// records the outcome on <body> for tests and the curious.
constexpr const char* kEmbed = R"(
(function () {
  const body = document.body;
  const ids = Object.keys(SIMTUNE_PLOTS);
  let rendered = 0, errors = 0;
  body.dataset.plots = ids.length;
  const settle = function () {
    body.dataset.scriptErrors = SIMTUNE_ERRORS.length;
    if (SIMTUNE_ERRORS.length) {
      const pre = document.createElement("pre");
      pre.className = "plot-error";
      pre.textContent = "script errors:\n" + SIMTUNE_ERRORS.join("\n");
      body.appendChild(pre);
    }
  };
  Promise.all(ids.map(function (id) {
    const el = document.getElementById(id);
    if (!el) { errors++; body.dataset.errors = errors; console.error("no element for plot " + id); return; }
    return vegaEmbed(el, SIMTUNE_PLOTS[id], {mode: "vega-lite", renderer: "svg", actions: false})
      .then(function () { rendered++; body.dataset.rendered = rendered; })
      .catch(function (e) {
        errors++; body.dataset.errors = errors;
        el.innerHTML = "";
        const p = document.createElement("p");
        p.className = "plot-error";
        p.textContent = "plot " + id + " failed: " + e;
        el.appendChild(p);
        console.error("plot " + id + " failed: " + e);
      });
  })).then(settle, settle);
})();
)";

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Fmt(double v, const char* fmt = "%.3g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// A run time with its unit, in a readable magnitude ("412 µs", "1.23 ms", "15300 cycles").
std::string Time(double v, const std::string& unit) {
  if (unit != "ns") return Fmt(v, "%.4g") + " " + unit;
  if (v >= 1e9) return Fmt(v / 1e9) + " s";
  if (v >= 1e6) return Fmt(v / 1e6) + " ms";
  if (v >= 1e3) return Fmt(v / 1e3) + " µs";
  return Fmt(v) + " ns";
}

std::string Number(const json& v, const char* fmt = "%.3g") {
  return v.is_number() ? Fmt(v.get<double>(), fmt) : "–";
}

// JSON inside <script>: "</" would end the element.
std::string ScriptJson(const json& j) {
  std::string text = j.dump();
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string Plot(const json& plots, const char* key) {
  if (!plots.contains(key)) return "";
  return "<div class=\"plot\" id=\"" + Escape(plots[key].get<std::string>()) + "\"></div>\n";
}

std::string AccuracyCaption(const json& a) {
  const json& tb = a["true_best"];
  const json& pb = a["predicted_best"];
  std::string unit = a.value("time_unit", std::string("ns"));
  std::ostringstream o;
  o << "The true best (candidate " << tb["candidate_id"] << ", " << Escape(Time(tb["measured"].get<double>(), unit))
    << ") is <b>rank " << tb["predicted_rank"] << " of " << a["both"] << "</b> in the predicted order";
  if (pb["candidate_id"] != tb["candidate_id"])
    o << "; the predicted best (candidate " << pb["candidate_id"] << ") measured "
      << Escape(Time(pb["measured"].get<double>(), unit));
  o << ". Spearman " << Number(a["spearman"], "%.3f") << ", top-k " << Number(a["top_k_percent"], "%.1f")
    << " %, regret " << Number(a["regret"], "%.3f") << " (measured time of the predicted best / the best).";
  o << " Predictions in " << Escape(a.value("unit", std::string("unknown unit"))) << " by model <code>"
    << Escape(a.value("model", std::string())) << "</code>, " << a["predicted"]
    << " candidates predicted; a model trained on these measurements scores them in-sample.";
  return o.str();
}

std::string WorkloadSection(const json& w, size_t index) {
  std::ostringstream o;
  const json& plots = w["plots"];
  std::string unit = w.value("time_unit", std::string("ns"));
  o << "<section id=\"w" << index << "\">\n<h2>" << Escape(w["workload"].get<std::string>()) << "</h2>\n";
  o << "<p class=\"meta\">" << w["candidates"] << " candidates in the store, " << w["measured"]
    << " measured on the reference (" << Escape(w["reference_options"].get<std::string>()) << ")";
  if (w["measure_failed"].get<size_t>() > 0) o << ", " << w["measure_failed"] << " failed there";
  if (w.contains("best"))
    o << "; fastest measured: candidate " << w["best"]["candidate_id"] << " <code>"
      << Escape(w["best"]["config"].get<std::string>()) << "</code>, " << Escape(Time(w["best"]["value"].get<double>(), unit))
      << " ± " << Percent(w["best"]["spread"].get<double>());
  o << ".</p>\n";

  o << "<h3>Predicted vs measured</h3>\n";
  const json& a = w["accuracy"];
  if (a.contains("points")) {
    o << Plot(plots, "scatter") << "<p class=\"caption\">" << AccuracyCaption(a) << "</p>\n";
  } else if (a["models"].empty()) {
    o << "<p class=\"note\">No predictions stored for this workload: run <code>simtune predict</code> or "
         "<code>simtune tune</code>.</p>\n";
  } else {
    o << "<p class=\"note\">No candidate is both measured and predicted by " << Escape(a["model"].get<std::string>())
      << ": run <code>simtune measure</code> on some of them.</p>\n";
  }

  o << "<h3>Tuning curve</h3>\n";
  if (plots.contains("tune")) {
    o << Plot(plots, "tune") << "<p class=\"caption\">One line per <code>simtune tune</code> run: the fastest "
      << "reference result so far (calibration, then verification of the top predicted) and the lowest "
      << "prediction of the run's model so far, against wall time since the run started and against the "
      << "number of candidates built and simulated.</p>\n";
  } else {
    o << "<p class=\"note\">No tune run stored for this workload: run <code>simtune tune</code>.</p>\n";
  }

  o << "<h3>Simulator statistics of the top candidates</h3>\n";
  const json& st = w["stats"];
  if (plots.contains("stats")) {
    o << "<p class=\"caption\">The " << st["top"] << " best candidates by " << Escape(st["order"].get<std::string>())
      << " time, side by side.</p>\n"
      << Plot(plots, "stats");
    o << "<table><tr><th>simulator</th><th>candidate</th><th>knobs</th><th>instructions</th><th>loads</th>"
         "<th>stores</th></tr>\n";
    for (const auto& r : st["table"])
      o << "<tr><td>" << Escape(r["simulator"].get<std::string>()) << "</td><td>"
        << Escape(r["candidate"].get<std::string>()) << "</td><td><code>" << Escape(r.value("config", std::string()))
        << "</code></td><td class=\"num\">" << r["insn_count"]
        << "</td><td class=\"num\">" << (r["loads"].is_null() ? "–" : r["loads"].dump())
        << "</td><td class=\"num\">" << (r["stores"].is_null() ? "–" : r["stores"].dump()) << "</td></tr>\n";
    o << "</table>\n";
  } else {
    o << "<p class=\"note\">No simulator statistics of measured or predicted candidates: run "
         "<code>simtune simulate</code>.</p>\n";
  }
  o << "</section>\n";
  return o.str();
}

std::string NoiseSection(const json& doc) {
  std::ostringstream o;
  o << "<section id=\"noise\">\n<h2>Reference noise</h2>\n";
  std::string id = doc.value("noise_plot", std::string());
  if (!id.empty()) o << "<div class=\"plot\" id=\"" << Escape(id) << "\"></div>\n";
  o << "<p class=\"caption\">Each candidate's timed reference value is the fastest round's fastest "
       "repetition (value=median: the median over rounds of those); its spread is (max − min) / value of the round minima. "
       "A ranking is flagged when the median spread is above the "
       "threshold, or when other candidates lie within that spread of the best (their order is noise).</p>\n";
  o << "<table><tr><th>workload</th><th>measured</th><th>median spread</th><th>max spread</th>"
       "<th>within noise of the best (itself included)</th><th>ranking</th></tr>\n";
  for (const auto& w : doc["workloads"]) {
    const json& n = w["noise"];
    o << "<tr><td>" << Escape(w["workload"].get<std::string>()) << "</td><td class=\"num\">" << n["measured"] << "</td>";
    if (!n.contains("median_spread")) {
      o << "<td colspan=\"4\" class=\"note\">nothing measured: run <code>simtune measure</code></td></tr>\n";
      continue;
    }
    bool bad = n["untrustworthy"].get<bool>();
    o << "<td class=\"num\">" << Percent(n["median_spread"].get<double>()) << "</td><td class=\"num\">"
      << Percent(n["max_spread"].get<double>()) << "</td><td class=\"num\">" << n["within_noise_of_best"]
      << "</td><td class=\"" << (bad ? "flag" : "ok") << "\">"
      << (bad ? "untrustworthy: " + Escape(n["why"].get<std::string>()) : std::string("trustworthy")) << "</td></tr>\n";
  }
  o << "</table>\n</section>\n";
  return o.str();
}

std::string EvalSection(const json& eval) {
  std::ostringstream o;
  o << "<section id=\"eval\">\n<h2>Predictor evaluation</h2>\n<p class=\"meta\">From <code>"
    << Escape(eval["file"].get<std::string>()) << "</code> (<code>simtune eval --json</code>).</p>\n";
  o << Plot(eval["plots"], "top_k");
  o << "<table><tr><th>predictor</th><th>protocol</th><th>workload</th><th>candidates</th><th>top-k %</th>"
       "<th>regret</th><th>regret, verify top " << eval["verify_k"] << "</th><th>Spearman</th><th>Kendall τb</th>"
       "<th>NDCG@10</th><th>MAPE</th></tr>\n";
  for (const auto& r : eval["rows"]) {
    o << "<tr><td>" << Escape(r["predictor"].get<std::string>()) << "</td><td>" << Escape(r["protocol"].get<std::string>())
      << "</td><td>" << Escape(r.value("workload", std::string())) << "</td><td class=\"num\">" << r.value("candidates", 0)
      << "</td><td class=\"num\">" << Number(r["top_k_percent"], "%.2f") << "</td><td class=\"num\">"
      << Number(r["regret"], "%.3f") << "</td><td class=\"num\">" << Number(r["regret_verify_top_k"], "%.3f")
      << "</td><td class=\"num\">" << Number(r["spearman"], "%.3f") << "</td><td class=\"num\">"
      << Number(r["kendall_tau_b"], "%.3f") << "</td><td class=\"num\">" << Number(r["ndcg_at_k"], "%.3f")
      << "</td><td class=\"num\">" << (r["mape"].is_number() ? Percent(r["mape"].get<double>()) : "–") << "</td></tr>\n";
  }
  o << "</table>\n";
  for (const auto& f : eval["failed"])
    o << "<p class=\"flag\">" << Escape(f["predictor"].get<std::string>()) << " (" << Escape(f["protocol"].get<std::string>())
      << ") failed: " << Escape(f["error"].get<std::string>()) << "</p>\n";
  o << "</section>\n";
  return o.str();
}

Result<std::string> ReadLibrary(const std::filesystem::path& file) {
  std::optional<std::string> text = ReadWholeFile(file);
  if (!text) return Error{"report: cannot read the plotting library " + file.string() +
                          " (vendored under third_party/vega; set SIMTUNE_VEGA_DIR to its folder)"};
  // Drop source-map comments: the maps are not shipped, and a browser must fetch nothing.
  std::string out;
  for (const auto& line : Split(*text, '\n'))
    if (!StartsWith(line, "//# sourceMappingURL")) out += line + "\n";
  return out;
}

}  // namespace

std::filesystem::path AssetDir() {
  if (const char* dir = std::getenv("SIMTUNE_VEGA_DIR"); dir && *dir) return dir;
  return std::filesystem::path(BuildSourceDir()) / "third_party" / "vega";
}

Result<std::string> RenderHtml(const json& doc, const std::filesystem::path& asset_dir) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
    << Escape(doc.value("title", std::string("simtune report"))) << "</title>\n<style>" << kStyle << "</style>\n"
    << "<script>" << kCatchErrors << "</script>\n";
  for (const char* lib : kLibraries) {
    SIMTUNE_ASSIGN_OR_RETURN(std::string text, ReadLibrary(asset_dir / lib));
    o << "<script>\n" << text << "</script>\n";
  }
  o << "</head>\n<body data-plots=\"0\" data-rendered=\"0\" data-errors=\"0\" data-script-errors=\"pending\">\n";
  o << "<h1>simtune report</h1>\n<p class=\"meta\">Generated " << Escape(doc["generated"].get<std::string>())
    << " for target <code>" << Escape(doc["target"].get<std::string>()) << "</code>, reference <code>"
    << Escape(doc["reference"].get<std::string>()) << "</code>. Hover a point for its candidate.</p>\n<nav>";
  size_t i = 0;
  for (const auto& w : doc["workloads"])
    o << "<a href=\"#w" << i++ << "\">" << Escape(w["workload"].get<std::string>()) << "</a>";
  o << "<a href=\"#noise\">reference noise</a>";
  if (doc.contains("eval")) o << "<a href=\"#eval\">predictor evaluation</a>";
  o << "</nav>\n";

  o << "<h2>Summary</h2>\n<table><tr><th>workload</th><th>measured</th><th>fastest measured</th>"
       "<th>true best's predicted rank</th><th>Spearman</th><th>top-k %</th><th>regret</th><th>ranking</th></tr>\n";
  for (const auto& w : doc["workloads"]) {
    const json& a = w["accuracy"];
    bool has = a.contains("true_best");
    o << "<tr><td>" << Escape(w["workload"].get<std::string>()) << "</td><td class=\"num\">" << w["measured"] << " of "
      << w["candidates"] << "</td><td class=\"num\">"
      << (w.contains("best") ? Escape(Time(w["best"]["value"].get<double>(), w["time_unit"].get<std::string>())) : "–") << "</td><td class=\"num\">"
      << (has ? a["true_best"]["predicted_rank"].dump() + " of " + a["both"].dump() : "–") << "</td><td class=\"num\">"
      << (has ? Number(a["spearman"], "%.3f") : "–") << "</td><td class=\"num\">"
      << (has ? Number(a["top_k_percent"], "%.1f") : "–") << "</td><td class=\"num\">"
      << (has ? Number(a["regret"], "%.3f") : "–") << "</td>";
    const json& n = w["noise"];
    if (n.contains("untrustworthy"))
      o << (n["untrustworthy"].get<bool>() ? "<td class=\"flag\">untrustworthy</td>" : "<td class=\"ok\">trustworthy</td>");
    else
      o << "<td>–</td>";
    o << "</tr>\n";
  }
  o << "</table>\n";
  i = 0;
  for (const auto& w : doc["workloads"]) o << WorkloadSection(w, i++);
  o << NoiseSection(doc);
  if (doc.contains("eval")) o << EvalSection(doc["eval"]);
  o << "<script>\nconst SIMTUNE_PLOTS = " << ScriptJson(doc["plots"]) << ";\n" << kEmbed << "</script>\n";
  o << "</body>\n</html>\n";
  return o.str();
}

}  // namespace simtune::report
