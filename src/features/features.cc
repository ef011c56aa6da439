#include "simtune/features.h"

#include <cmath>
#include <limits>
#include <set>

namespace simtune {
namespace {

double SafeLog(double v) { return std::log(std::max(v, 1.0)); }

// Names of the features that carry a workload's scale and get a ".rel" twin.
bool IsScaleFeature(const std::string& name) {
  return name.find(".log_") != std::string::npos && name.rfind("shape.", 0) != 0 &&
         !name.ends_with("_per_flop");
}

// The "mca" simulator's record (src/simulators/mca_support.h: Combine).
void AddMcaFeatures(const std::string& p, const nlohmann::json& m, double insn,
                    std::map<std::string, double>& f) {
  if (!m.is_object()) return;
  const double cycles = m.value("cycles", 0.0);
  if (cycles <= 0) return;
  f[p + "log_cycles"] = SafeLog(cycles);
  f[p + "cycles_per_insn"] = cycles / insn;
  f[p + "rthroughput_ratio"] = m.value("rthroughput_cycles", 0.0) / cycles;
  f[p + "coverage"] = m.value("coverage", 0.0);
  if (m.contains("bound") && m["bound"].is_object())
    for (const auto& [group, share] : m["bound"].items())
      if (share.is_number()) f[p + "bound." + group] = share.get<double>();
}

// A count in one group of a record's extra fields (extra.splits, extra.vector); 0 when the
// group does not hold it.
double GroupCount(const nlohmann::json& group, const char* key) {
  return group.contains(key) && group[key].is_number() ? group[key].get<double>() : 0.0;
}

// One group of a record's extra fields (extra.splits, extra.vector, extra.store_load), or
// null when the record has none (older records, other simulators).
const nlohmann::json* ExtraGroup(const SimStats& s, const char* name) {
  if (!s.extra.is_object() || !s.extra.contains(name) || !s.extra[name].is_object()) return nullptr;
  return &s.extra[name];
}

void AddSimFeatures(const std::string& sim, const SimStats& s, std::map<std::string, double>& f) {
  const std::string p = sim + ".";
  double insn = static_cast<double>(s.insn_count);
  if (insn <= 0) return;  // nothing ran in the ROI: no statistic is meaningful
  f[p + "log_insn"] = SafeLog(insn);
  if (!s.classes.empty()) {
    for (const auto& c : kInsnClasses) {
      auto it = s.classes.find(c);
      f[p + "frac." + c] = it == s.classes.end() ? 0.0 : it->second / insn;
    }
  }
  if (s.loads && s.stores) {
    double mem = static_cast<double>(*s.loads + *s.stores);
    f[p + "mem_per_insn"] = mem / insn;
    if (mem > 0) f[p + "load_frac_of_mem"] = *s.loads / mem;
    if (s.load_bytes && s.store_bytes) {
      double bytes = static_cast<double>(*s.load_bytes + *s.store_bytes);
      f[p + "log_mem_bytes"] = SafeLog(bytes);
      if (mem > 0) f[p + "bytes_per_access"] = bytes / mem;
    }
  }
  // Accesses split across two cache lines or two 4 KiB pages (qemu's extra.splits): cycles
  // on a real core that no count above shows. Records from before them have none: absent.
  if (const nlohmann::json* splits = ExtraGroup(s, "splits"); splits && s.loads && s.stores) {
    auto count = [&](const char* key) { return GroupCount(*splits, key); };
    double mem = static_cast<double>(*s.loads + *s.stores);
    f[p + "line_split_frac"] =
        mem > 0 ? (count("line_loads") + count("line_stores")) / mem : 0.0;
    double page = count("page_loads") + count("page_stores");
    f[p + "page_splits_pki"] = 1000 * page / insn;
    f[p + "log_page_splits"] = SafeLog(page);
  }
  // x86_64's packed vector instructions by register width, and those that move data across
  // lanes (qemu's extra.vector): a core runs shuffles on few ports and wide ops at the
  // width's throughput, which the class mix alone does not say. Older records: absent.
  if (const nlohmann::json* vector = ExtraGroup(s, "vector")) {
    auto count = [&](const char* key) { return GroupCount(*vector, key); };
    double packed = count("xmm") + count("ymm") + count("zmm");
    f[p + "vec_packed_frac"] = packed / insn;
    f[p + "vec_wide_frac"] = packed > 0 ? (count("ymm") + count("zmm")) / packed : 0.0;
    f[p + "shuffle_frac"] = count("shuffle") / insn;
    f[p + "shuffle_per_packed"] = packed > 0 ? count("shuffle") / packed : 0.0;
  }
  double penalty = insn;
  const std::map<std::string, double> kPenalty = {{"l1d", 10}, {"l1i", 10}, {"l2", 50},
                                                  {"ll", 200}, {"l3", 200}};
  for (const auto& c : s.caches) {
    double reads = static_cast<double>(c.read_hits + c.read_misses);
    double writes = static_cast<double>(c.write_hits + c.write_misses);
    double misses = static_cast<double>(c.read_misses + c.write_misses);
    std::string q = p + c.level + ".";
    // No accesses of a kind: no misses of it (0, not a missing feature, which some models refuse).
    f[q + "read_miss_rate"] = reads > 0 ? c.read_misses / reads : 0.0;
    f[q + "write_miss_rate"] = writes > 0 ? c.write_misses / writes : 0.0;
    f[q + "mpki"] = 1000 * misses / insn;
    f[q + "log_misses"] = SafeLog(misses);
    auto it = kPenalty.find(c.level);
    if (it != kPenalty.end()) penalty += it->second * misses;
  }
  // A level the simulator left out for this run (spike: a counter went down inside the ROI)
  // would make the proxy too small: absent instead, like the level's own features.
  const bool levels_left_out = s.extra.is_object() && s.extra.contains("caches_left_out") &&
                               !s.extra["caches_left_out"].empty();
  if (!s.caches.empty() && !levels_left_out) f[p + "log_cpi_proxy"] = SafeLog(penalty);
  if (s.branches && *s.branches > 0 && s.branch_mispredicts) {
    f[p + "bpred.miss_rate"] = static_cast<double>(*s.branch_mispredicts) / *s.branches;
    f[p + "bpred.mpki"] = 1000.0 * *s.branch_mispredicts / insn;
  }
  // Loads of bytes one of the last 4 / 16 / 64 stores wrote (qemu's extra.store_load, option
  // raw=on): a dependency carried through memory costs a core the store-to-load latency per
  // step, which no count above shows. Per 1000 instructions; records without it: absent.
  if (const nlohmann::json* store_load = ExtraGroup(s, "store_load")) {
    auto count = [&](const char* key) { return GroupCount(*store_load, key); };
    f[p + "store_load_4_pki"] = 1000 * count("within_4") / insn;
    f[p + "store_load_16_pki"] = 1000 * count("within_16") / insn;
    f[p + "store_load_64_pki"] = 1000 * count("within_64") / insn;
  }
  // The plugin's dependency timing models (qemu's extra.dep, option dep=on): cycles of an
  // in-order scoreboard and of a width x window out-of-order core, latency chains, load-use
  // stalls and overlapped misses included. Records without them: absent.
  if (const nlohmann::json* dep = ExtraGroup(s, "dep")) {
    for (const char* model : {"inorder", "ooo"}) {
      double cycles = GroupCount(*dep, (std::string(model) + "_cycles").c_str());
      if (cycles <= 0) continue;
      f[p + "dep.log_cycles_" + model] = SafeLog(cycles);
      f[p + "dep.cpi_" + model] = cycles / insn;
    }
  }
  if (s.extra.is_object() && s.extra.contains("mca")) AddMcaFeatures(p, s.extra["mca"], insn, f);
  if (!s.reuse_log2.empty()) {
    double total = 0;
    for (auto v : s.reuse_log2) total += static_cast<double>(v);
    if (total > 0) {
      // Coarse groups: fine buckets are sparse and make models overfit one cache size.
      const size_t n = s.reuse_log2.size();
      const char* names[] = {"0_3", "4_7", "8_11", "12_15", "16_up"};
      double groups[5] = {0, 0, 0, 0, 0};
      for (size_t i = 0; i + 1 < n; ++i) groups[std::min<size_t>(i / 4, 4)] += s.reuse_log2[i];
      for (int g = 0; g < 5; ++g) f[p + "reuse." + names[g]] = groups[g] / total;
      f[p + "reuse.cold"] = s.reuse_log2[n - 1] / total;
    }
  }
}

// Shape features common to every operator (features.h), so that a model trained on one
// operator can score another; the operator's own parameters only on request.
void AddShapeFeatures(const Workload& workload, double flops, const FeatureOptions& options,
                      std::map<std::string, double>& f) {
  if (options.shape_params)
    for (const auto& [name, value] : workload.shape)
      f["shape.param.log_" + name] = SafeLog(static_cast<double>(value));
  // An invalid workload (only hand-made ones reach here) has no common quantities: absent
  // features, never invented ones.
  auto q = ComputeShapeQuantities(workload);
  if (!q.ok()) {
    if (flops > 0) f["shape.log_flops"] = SafeLog(flops);
    return;
  }
  // The artifact's flops win when given (the same number for a built-in operator).
  const double fl = flops > 0 ? flops : q->flops;
  const double bytes = q->input_bytes + q->output_bytes;
  f["shape.log_flops"] = SafeLog(fl);
  f["shape.log_bytes"] = SafeLog(bytes);
  f["shape.log_in_bytes_max"] = SafeLog(q->largest_input_bytes);
  f["shape.log_in_bytes_min"] = SafeLog(q->smallest_input_bytes);
  f["shape.log_out_bytes"] = SafeLog(q->output_bytes);
  f["shape.log_reduction"] = SafeLog(q->reduction);
  f["shape.log_intensity"] = bytes > 0 && fl > 0 ? std::log(fl / bytes) : 0.0;
}

}  // namespace

std::map<std::string, double> ExtractFeatures(const std::map<std::string, SimStats>& stats,
                                              const Workload& workload, const Config& config,
                                              double flops, const FeatureOptions& options) {
  std::map<std::string, double> f;
  for (const auto& [sim, s] : stats) AddSimFeatures(sim, s, f);
  if (options.shape) AddShapeFeatures(workload, flops, options, f);
  if (options.knobs)
    for (const auto& [name, value] : config) f["knob." + name] = static_cast<double>(value);
  if (flops > 0) {
    std::map<std::string, double> per_flop;
    for (const auto& [name, value] : f)
      if (IsScaleFeature(name)) per_flop[name + "_per_flop"] = value - std::log(flops);
    f.insert(per_flop.begin(), per_flop.end());
  }
  return f;
}

Dataset BuildDataset(const std::vector<FeatureInput>& rows, const std::vector<std::string>& names,
                     bool relative) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> cols = names;
  if (cols.empty()) {
    std::set<std::string> all;
    for (const auto& r : rows)
      for (const auto& [k, v] : r.features) {
        all.insert(k);
        if (relative && IsScaleFeature(k)) all.insert(k + ".rel");
      }
    cols.assign(all.begin(), all.end());
  }
  Dataset d;
  d.feature_names = cols;
  d.X = Eigen::MatrixXd::Constant(static_cast<Eigen::Index>(rows.size()),
                                  static_cast<Eigen::Index>(cols.size()), nan);
  d.y.resize(static_cast<Eigen::Index>(rows.size()));
  std::map<std::string, size_t> index;
  for (size_t j = 0; j < cols.size(); ++j) index[cols[j]] = j;
  // Group means of the scale features, over the rows that have them.
  std::map<std::pair<int, std::string>, std::pair<double, int>> sums;
  for (const auto& r : rows)
    for (const auto& [k, v] : r.features)
      if (IsScaleFeature(k)) {
        auto& s = sums[{r.group, k}];
        s.first += v;
        s.second += 1;
      }
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    d.y[static_cast<Eigen::Index>(i)] = r.y;
    d.group.push_back(r.group);
    d.ids.push_back(r.candidate_id);
    for (const auto& [k, v] : r.features) {
      auto it = index.find(k);
      if (it != index.end()) d.X(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(it->second)) = v;
      if (IsScaleFeature(k)) {
        auto rel = index.find(k + ".rel");
        if (rel != index.end()) {
          const auto& s = sums[{r.group, k}];
          d.X(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(rel->second)) = v - s.first / s.second;
        }
      }
    }
  }
  return d;
}

}  // namespace simtune
