// The HTML report (`simtune report W... --html FILE`): what the store knows about some
// workloads, drawn as plots in ONE self-contained file that needs no network to view.
//
//   store (+ an `eval --json` file) --CollectReport--> report document (data + Vega-Lite specs)
//                                   --RenderHtml-----> HTML with the plotting libraries inlined
//
// Per workload: predicted vs measured (log-log, predicted and true best marked, rank of the
// true best, Spearman / top-k % / regret), the tuning curve of every stored tune run, the
// reference's round spread per candidate (a workload whose spread makes its ranking
// untrustworthy is flagged), the simulator statistics of the top candidates side by side.
// With an eval file: the per-workload metrics and the top-k % distribution per predictor.
//
// The plots are Vega-Lite specifications rendered in the browser by vega, vega-lite and
// vega-embed, vendored under third_party/vega (see its README) and inlined into the file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "simtune/result.h"
#include "simtune/store.h"

namespace simtune::report {

struct ReportOptions {
  std::vector<std::string> workloads;    // workload strings or catalog names; at least one
  std::string target = "x86_64-host";    // candidates built, simulated and measured for it
  std::string reference = "native";
  std::string reference_options;         // options key; empty: each candidate's latest ok result
  std::string model;                     // plot this model's predictions (the store's model
                                         // name, e.g. a model file or "tune:ridge"); empty: the
                                         // model of each workload's latest prediction
  std::string eval_json;                 // an `eval --json` file; empty: no eval section
  size_t top = 5;                        // candidates whose simulator statistics are compared
  double noise_threshold = 0.05;         // median round spread above which a ranking is flagged
};

// The report document: {"title", "generated", "options", "workloads": [...], "eval": ...,
// "plots": {id: Vega-Lite spec}}. Each workload entry holds its numbers (counts, metrics,
// noise verdict) and the ids of its plots; a missing part (no predictions, no tune run) is
// an entry with a "note" saying which command produces it, not an error.
// Errors: no workload given, a workload that does not parse or is not in the store, an eval
// file that cannot be read or is not an `eval --json` document (named with its path), store
// errors.
Result<nlohmann::json> CollectReport(Store& store, const ReportOptions& options);

// The folder of the vendored plotting libraries: $SIMTUNE_VEGA_DIR if set, else the source
// tree's third_party/vega.
std::filesystem::path AssetDir();

// The HTML page of a report document, vega + vega-lite + vega-embed inlined from
// `asset_dir`. The page records on <body> how many plots it holds (data-plots), rendered
// (data-rendered) and failed (data-errors), and, once every plot settled, how many script
// errors it saw (data-script-errors); tests read these. Errors: a library file
// missing or unreadable (named with its path).
Result<std::string> RenderHtml(const nlohmann::json& report,
                               const std::filesystem::path& asset_dir = AssetDir());

}  // namespace simtune::report
