// Vega-Lite specs of the report. Every axis names its quantity and unit; every plot has a title.
#include "src/report/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace simtune::report {
namespace {

using nlohmann::json;

constexpr int kWidth = 540;
constexpr int kHeight = 360;

// Readable at a glance: larger titles and labels than Vega's defaults.
json Config() {
  return {{"axis", {{"titleFontSize", 13}, {"labelFontSize", 11}, {"titleFontWeight", "normal"}}},
          {"legend", {{"titleFontSize", 12}, {"labelFontSize", 11}, {"labelLimit", 420}}},
          {"title", {{"fontSize", 15}, {"subtitleFontSize", 12}, {"anchor", "start"}, {"subtitleColor", "#555"}}},
          {"view", {{"stroke", "#ddd"}}}};
}

json Title(const std::string& text, const std::string& subtitle = "") {
  json t = {{"text", text}};
  if (!subtitle.empty()) t["subtitle"] = subtitle;
  return t;
}

bool AllPositive(const json& rows, const std::string& field) {
  for (const auto& r : rows)
    if (!r[field].is_number() || r[field].get<double>() <= 0) return false;
  return !rows.empty();
}

std::string Unit(const json& part, const char* key) {
  return part.value(key, std::string("unknown unit"));
}

// Predicted against measured, both axes log when they can be, the best ones marked.
json Scatter(const json& accuracy) {
  const json& points = accuracy["points"];
  std::string time_unit = accuracy.value("time_unit", std::string("ns"));
  std::string unit = Unit(accuracy, "unit");
  bool score = unit == "score" || unit == "unknown unit";
  bool log_y = AllPositive(points, "predicted");
  std::string y_title = score ? "predicted score (" + unit + "; lower = predicted faster)" : "predicted run time (" + unit + ")";
  static const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> kRoles = {
      {"candidate", {"#8d99ae", "circle"}},
      {"predicted best", {"#e4572e", "triangle-up"}},
      {"true best", {"#1b998b", "diamond"}},
      {"true best = predicted best", {"#7b2cbf", "square"}}};
  std::set<std::string> present;
  for (const auto& p : points) present.insert(p["role"].get<std::string>());
  json domain = json::array(), colors = json::array(), shapes = json::array();
  for (const auto& [role, look] : kRoles)
    if (present.count(role)) {
      domain.push_back(role);
      colors.push_back(look.first);
      shapes.push_back(look.second);
    }
  // Log axes: SI-prefixed labels (300k, 1M) that do not overlap; the title carries the unit.
  json log_axis = {{"format", "~s"}, {"labelOverlap", "greedy"}};
  json x = {{"field", "measured"}, {"type", "quantitative"},
            {"scale", {{"type", "log"}, {"nice", false}, {"padding", 14}}}, {"axis", log_axis},
            {"title", "measured run time (" + time_unit + ")"}};
  json y = {{"field", "predicted"}, {"type", "quantitative"},
            {"scale", log_y ? json{{"type", "log"}, {"nice", false}, {"padding", 14}} : json{{"zero", false}, {"padding", 14}}},
            {"title", y_title}};
  if (log_y) y["axis"] = log_axis;
  json layers = json::array();
  if (!score && unit == time_unit) {   // same unit: the line where prediction = measurement
    double lo = INFINITY, hi = 0;
    for (const auto& p : points) {
      lo = std::min({lo, p["measured"].get<double>(), p["predicted"].get<double>()});
      hi = std::max({hi, p["measured"].get<double>(), p["predicted"].get<double>()});
    }
    layers.push_back({{"data", {{"values", json::array({{{"measured", lo}, {"predicted", lo}},
                                                        {{"measured", hi}, {"predicted", hi}}})}}},
                      {"mark", {{"type", "line"}, {"strokeDash", {5, 4}}, {"color", "#aaa"}}},
                      {"encoding", {{"x", x}, {"y", y}}}});
  }
  layers.push_back(
      {{"mark", {{"type", "point"}, {"filled", true}, {"opacity", 0.8}}},
       {"encoding",
        {{"x", x},
         {"y", y},
         {"color", {{"field", "role"}, {"type", "nominal"}, {"title", "candidate"},
                    {"scale", {{"domain", domain}, {"range", colors}}}}},
         {"shape", {{"field", "role"}, {"type", "nominal"}, {"scale", {{"domain", domain}, {"range", shapes}}}}},
         {"size", {{"condition", {{"test", "datum.role != 'candidate'"}, {"value", 220}}}, {"value", 50}}},
         {"order", {{"condition", {{"test", "datum.role != 'candidate'"}, {"value", 1}}}, {"value", 0}}},
         {"tooltip", json::array({{{"field", "candidate_id"}, {"title", "candidate"}},
                                  {{"field", "config"}},
                                  {{"field", "measured"}, {"title", "measured (" + time_unit + ")"}},
                                  {{"field", "predicted"}, {"title", "predicted (" + unit + ")"}}})}}}});
  std::string subtitle = "model " + accuracy.value("model", std::string()) + ", " +
                         std::to_string(points.size()) + " candidates both measured and predicted" +
                         (unit == time_unit ? "; dashed: prediction = measurement" : "");
  return {{"title", Title("Predicted vs measured", subtitle)},
          {"width", kWidth}, {"height", kHeight},
          {"data", {{"values", points}}},
          {"layer", layers},
          {"config", Config()}};
}

// Best verified and best predicted so far, against wall time and against simulations.
json TuneCurve(const json& runs) {
  json rows = json::array();
  std::set<std::string> predicted_units, verified_units;
  for (const auto& run : runs)
    for (const auto& p : run["points"]) {
      for (const char* series : {"best_verified", "best_predicted"}) {
        if (!p[series].is_number()) continue;
        bool verified = std::string(series) == "best_verified";
        std::string unit = verified ? run.value("verified_unit", std::string()) : Unit(run, "predicted_unit");
        (verified ? verified_units : predicted_units).insert(unit);
        rows.push_back({{"run", run["label"]}, {"series", series}, {"elapsed_s", p["elapsed_s"]},
                        {"simulations", p["simulations"]}, {"phase", p["phase"]}, {"value", p[series]}});
      }
    }
  auto unit_text = [](const std::set<std::string>& units) {
    std::string out;
    for (const auto& u : units) out += (out.empty() ? "" : ", ") + u;
    return out;
  };
  json rows_of_charts = json::array();
  for (const char* series : {"best_verified", "best_predicted"}) {
    bool verified = std::string(series) == "best_verified";
    std::string unit = unit_text(verified ? verified_units : predicted_units);
    if (unit.empty()) continue;
    std::string what = verified ? "fastest measured on the reference so far" : "best predicted so far";
    std::string y_title = verified ? "best verified run time (" + unit + ")"
                                   : (unit == "score" ? "best predicted score (score)" : "best predicted run time (" + unit + ")");
    json line = {{"type", "line"}, {"point", true}, {"interpolate", "step-after"}};
    json y = {{"field", "value"}, {"type", "quantitative"}, {"scale", {{"zero", false}}}, {"title", y_title}};
    json color = {{"field", "run"}, {"type", "nominal"}, {"title", "tune run"}};
    json tooltip = json::array({{{"field", "run"}}, {{"field", "phase"}}, {{"field", "elapsed_s"}, {"title", "wall time (s)"}},
                                {{"field", "simulations"}}, {{"field", "value"}, {"title", y_title}}});
    json filter = json::array({{{"filter", "datum.series == '" + std::string(series) + "'"}}});
    json by_time = {{"title", Title(std::string(verified ? "Best verified" : "Best predicted") + " vs wall time", what)},
                    {"width", 360}, {"height", 220}, {"transform", filter}, {"mark", line},
                    {"encoding", {{"x", {{"field", "elapsed_s"}, {"type", "quantitative"},
                                         {"scale", {{"zero", true}}}, {"axis", {{"labelOverlap", "greedy"}}},
                                         {"title", "wall time since the tune started (s)"}}},
                                  {"y", y}, {"color", color}, {"tooltip", tooltip}}}};
    json by_sims = by_time;
    by_sims["title"] = Title(std::string(verified ? "Best verified" : "Best predicted") + " vs simulations", what);
    by_sims["encoding"]["x"] = {{"field", "simulations"}, {"type", "quantitative"}, {"scale", {{"zero", true}}},
                                {"axis", {{"format", "d"}, {"labelOverlap", "greedy"}}},
                                {"title", "candidates tried (built and simulated, failures included)"}};
    rows_of_charts.push_back({{"hconcat", json::array({by_time, by_sims})}});
  }
  return {{"data", {{"values", rows}}}, {"vconcat", rows_of_charts}, {"config", Config()}};
}

// Instruction mix and misses per 1000 instructions of the top candidates, per simulator.
json Stats(const json& stats) {
  json rows = json::array();
  for (const auto& sim : stats["simulators"]) {
    std::string s = sim.get<std::string>();
    json filter = json::array({{{"filter", "datum.simulator == '" + s + "'"}}});
    json mix = {{"title", Title("Instruction mix (" + s + ")", "share of the ROI's instructions per class")},
                {"data", {{"values", stats["mix"]}}},
                {"transform", filter},
                {"width", 360},
                {"mark", "bar"},
                {"encoding",
                 {{"y", {{"field", "candidate"}, {"type", "nominal"}, {"sort", nullptr}, {"title", nullptr}}},
                  {"x", {{"field", "percent"}, {"type", "quantitative"}, {"aggregate", "sum"},
                         {"scale", {{"domain", {0, 100}}, {"clamp", true}}},
                         {"title", "instructions (% of the ROI)"}}},
                  {"color", {{"field", "class"}, {"type", "nominal"}, {"title", "instruction class"},
                             {"scale", {{"scheme", "tableau20"}}}}},
                  {"tooltip", json::array({{{"field", "candidate"}}, {{"field", "class"}},
                                           {{"field", "percent"}, {"title", "% of instructions"}, {"format", ".1f"}}})}}}};
    json rates = {{"title", Title("Misses per 1000 instructions (" + s + ")", "cache misses per level (reads + writes) and branch mispredicts")},
                  {"data", {{"values", stats["rates"]}}},
                  {"transform", filter},
                  {"width", 360},
                  {"mark", "bar"},
                  {"encoding",
                   {{"x", {{"field", "counter"}, {"type", "nominal"}, {"title", nullptr}, {"sort", nullptr},
                           {"axis", {{"labelAngle", -30}}}}},
                    {"xOffset", {{"field", "candidate"}, {"type", "nominal"}, {"sort", nullptr}}},
                    {"y", {{"field", "mpki"}, {"type", "quantitative"}, {"title", "misses per 1000 instructions"}}},
                    {"color", {{"field", "candidate"}, {"type", "nominal"}, {"sort", nullptr}, {"title", "candidate"}}},
                    {"tooltip", json::array({{{"field", "candidate"}}, {{"field", "counter"}},
                                             {{"field", "mpki"}, {"title", "per 1000 instructions"}, {"format", ".3g"}}})}}}};
    bool has_mix = false, has_rates = false;
    for (const auto& m : stats["mix"]) has_mix |= m["simulator"] == s;
    for (const auto& r : stats["rates"]) has_rates |= r["simulator"] == s;
    json charts = json::array();
    if (has_mix) charts.push_back(mix);
    if (has_rates) charts.push_back(rates);
    if (charts.empty()) continue;
    rows.push_back({{"hconcat", charts}, {"resolve", {{"scale", {{"color", "independent"}}}}}});
  }
  return {{"vconcat", rows}, {"config", Config()}};
}

}  // namespace

std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * fraction);
  return buf;
}

// Ids are prefixed so that they never clash with the page's section ids.
std::string Charts::Add(const std::string& name, json spec) {
  std::string id = "plot-" + name;
  specs_[id] = std::move(spec);
  return id;
}

void Charts::AddWorkload(json& w, size_t index) {
  json plots = json::object();
  std::string prefix = "w" + std::to_string(index) + "-";
  if (w["accuracy"].contains("points")) plots["scatter"] = Add(prefix + "scatter", Scatter(w["accuracy"]));
  if (!w["tune_runs"].empty()) plots["tune"] = Add(prefix + "tune", TuneCurve(w["tune_runs"]));
  if (w["stats"].contains("simulators") && !w["stats"]["simulators"].empty())
    plots["stats"] = Add(prefix + "stats", Stats(w["stats"]));
  w["plots"] = plots;
}

void Charts::AddNoise(const json& workloads) {
  json rows = json::array();
  for (const auto& w : workloads) {
    const json& noise = w["noise"];
    if (!noise.contains("points")) continue;
    std::string verdict = noise.value("untrustworthy", false) ? "ranking untrustworthy" : "ranking trustworthy";
    for (const auto& p : noise["points"]) {
      json r = p;
      r["workload"] = w["workload"];
      r["verdict"] = verdict;
      rows.push_back(r);
    }
  }
  if (rows.empty()) return;
  double threshold = workloads.empty() ? 0.05 : workloads[0]["noise"].value("threshold", 0.05);
  json y = {{"field", "workload"}, {"type", "nominal"}, {"title", nullptr}, {"axis", {{"labelLimit", 420}}}};
  json x = {{"field", "spread_percent"}, {"type", "quantitative"}, {"scale", {{"zero", true}, {"nice", true}}},
            {"axis", {{"labelOverlap", "greedy"}, {"tickCount", 10}}},
            {"title", "round spread of a candidate's reference time (% of its time)"}};
  json spec = {
      {"title", Title("Reference noise", "one dot per measured candidate; box: quartiles; red rule: the " +
                                             Percent(threshold) + " threshold")},
      {"width", 620},
      {"height", {{"step", 70}}},
      {"data", {{"values", rows}}},
      {"layer",
       json::array(
           {{{"mark", {{"type", "boxplot"}, {"extent", "min-max"}, {"opacity", 0.35}, {"size", 40}}},
             {"encoding", {{"x", x}, {"y", y}, {"color", {{"value", "#8d99ae"}}}}}},
            {{"transform", json::array({{{"calculate", "(random() - 0.5) * 40"}, {"as", "jitter"}}})},
             {"mark", {{"type", "point"}, {"filled", true}, {"opacity", 0.75}}},
             {"encoding",
              {{"x", x},
               {"y", y},
               {"yOffset", {{"field", "jitter"}, {"type", "quantitative"}, {"scale", {{"domain", {-35, 35}}}}}},
               {"color", {{"field", "verdict"}, {"type", "nominal"}, {"title", "workload"},
                          {"scale", {{"domain", {"ranking trustworthy", "ranking untrustworthy"}},
                                     {"range", {"#1b998b", "#e4572e"}}}}}},
               {"tooltip", json::array({{{"field", "candidate_id"}, {"title", "candidate"}}, {{"field", "config"}},
                                        {{"field", "spread_percent"}, {"title", "spread (%)"}, {"format", ".2f"}},
                                        {{"field", "rounds"}}})}}}},
            {{"data", {{"values", json::array({{{"threshold", 100 * threshold}}})}}},
             {"mark", {{"type", "rule"}, {"color", "#e4572e"}, {"strokeDash", {4, 3}}, {"strokeWidth", 2}}},
             {"encoding", {{"x", {{"field", "threshold"}, {"type", "quantitative"}}}}}}})},
      {"config", Config()}};
  noise_id_ = Add("noise", spec);
}

void Charts::AddEval(json& eval) {
  json plots = json::object();
  if (!eval["rows"].empty()) {
    json rows = json::array();
    for (const auto& r : eval["rows"])
      if (r["top_k_percent"].is_number())
        rows.push_back({{"predictor", r["predictor"]}, {"protocol", r["protocol"]},
                        {"run", r["predictor"].get<std::string>() + " (" + r["protocol"].get<std::string>() + ")"},
                        {"workload", r["workload"]}, {"top_k_percent", r["top_k_percent"]}});
    json x = {{"field", "top_k_percent"}, {"type", "quantitative"}, {"scale", {{"zero", true}, {"nice", true}}},
              {"title", "top-k %: where the true best lands in the predicted order (% of candidates; lower is better)"}};
    json y = {{"field", "run"}, {"type", "nominal"}, {"title", "predictor (protocol)"}};
    json color = {{"field", "protocol"}, {"type", "nominal"}, {"title", "protocol"}};
    json spec = {{"title", Title("Top-k % per predictor", "one dot per workload and protocol (kfold: within workloads; lowo: workload never seen)")},
                 {"width", 620},
                 {"height", {{"step", 34}}},
                 {"data", {{"values", rows}}},
                 {"layer", json::array({{{"mark", {{"type", "boxplot"}, {"extent", "min-max"}, {"opacity", 0.3}}},
                                         {"encoding", {{"x", x}, {"y", y}, {"color", color}}}},
                                        {{"mark", {{"type", "point"}, {"filled", true}, {"size", 60}}},
                                         {"encoding", {{"x", x}, {"y", y}, {"color", color},
                                                       {"tooltip", json::array({{{"field", "predictor"}}, {{"field", "protocol"}},
                                                                                {{"field", "workload"}},
                                                                                {{"field", "top_k_percent"}, {"title", "top-k %"}, {"format", ".2f"}}})}}}}})},
                 {"config", Config()}};
    plots["top_k"] = Add("eval-topk", spec);
  }
  eval["plots"] = plots;
}

}  // namespace simtune::report
