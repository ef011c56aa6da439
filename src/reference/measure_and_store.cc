// MeasureAndStore (reference.h): the one place where a batch's reference results become rows.
#include "simtune/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "simtune/store.h"
#include "simtune/strings.h"
#include "src/reference/ref_row.h"

namespace simtune {

Result<std::optional<StoredRef>> FindStoredRef(const Reference& reference, const Target& target,
                                               int64_t candidate_id, const std::string& artifact_hash,
                                               Store& store) {
  SIMTUNE_ASSIGN_OR_RETURN(auto done, store.LatestOkRef(candidate_id, target.name, reference.name(),
                                                        reference.options_key(), artifact_hash));
  if (done.has_value()) return std::optional<StoredRef>{StoredRef{done->result, false}};
  const std::string key = reference.rereducible_key();
  if (key.empty()) return std::optional<StoredRef>{};
  SIMTUNE_ASSIGN_OR_RETURN(auto before, store.LatestOkRef(candidate_id, target.name, reference.name(), key,
                                                          artifact_hash));
  if (!before.has_value()) return std::optional<StoredRef>{};
  auto again = reference.Rereduce(before->result);
  if (!again.ok()) return std::optional<StoredRef>{};
  SIMTUNE_RETURN_IF_ERROR(store.AddRefResult(MakeRefRow(reference, target, candidate_id, artifact_hash, *again)));
  return std::optional<StoredRef>{StoredRef{*again, true}};
}

namespace {

// One attempt at a chunk: its results (chunk order) and its control's value (NaN: none).
struct Attempt {
  std::vector<RefResult> results;
  double control = std::numeric_limits<double>::quiet_NaN();
};

std::string WithControlRatio(const std::string& extra_json, double ratio) {
  nlohmann::json extra = nlohmann::json::parse(extra_json, nullptr, false);
  if (!extra.is_object()) extra = nlohmann::json::object();
  extra["control_ratio"] = ratio;
  return DumpJson(extra);
}

}  // namespace

Result<std::vector<RefResult>> MeasureAndStore(Reference& reference,
                                               const std::vector<Artifact>& batch,
                                               const std::vector<int64_t>& candidate_ids,
                                               const Target& target, Store& store, size_t chunk,
                                               const std::function<void(size_t, size_t)>& progress,
                                               const ChunkControl& control, ChunkControlReport* report) {
  SIMTUNE_CHECK(batch.size() == candidate_ids.size());
  const bool controlled = chunk > 0 && control.enabled && reference.wall_clock() && batch.size() > chunk;
  if (chunk == 0) chunk = std::max<size_t>(batch.size(), 1);
  const size_t n_chunks = (batch.size() + chunk - 1) / chunk;
  std::optional<size_t> control_index;   // into batch: the first artifact that measured ok
  double best = std::numeric_limits<double>::infinity();
  std::vector<Attempt> kept(n_chunks);

  // Measures chunk k once (with the control appended when it lies outside the chunk).
  auto measure = [&](size_t k) {
    const size_t begin = k * chunk, end = std::min(batch.size(), begin + chunk);
    std::vector<Artifact> part(batch.begin() + begin, batch.begin() + end);
    const bool append = controlled && control_index && (*control_index < begin || *control_index >= end);
    if (append) part.push_back(batch[*control_index]);
    Attempt a;
    a.results = reference.Measure(part, target);
    SIMTUNE_CHECK(a.results.size() == part.size());
    if (controlled && !control_index) {
      for (size_t i = 0; i < end - begin; ++i)
        if (a.results[i].ok()) {
          control_index = begin + i;
          break;
        }
    }
    if (controlled && control_index) {
      const RefResult& c = append ? a.results.back() : a.results[*control_index - begin];
      if (c.ok() && c.value > 0) a.control = c.value;
    }
    if (append) a.results.pop_back();
    return a;
  };
  // Stores the rows of chunk k's attempt a (only those at `only`, when given).
  auto store_rows = [&](size_t k, const Attempt& a, const std::vector<size_t>& only = {}) -> Status {
    const size_t begin = k * chunk;
    for (size_t i = 0; i < a.results.size(); ++i) {
      if (!only.empty() && std::find(only.begin(), only.end(), i) == only.end()) continue;
      RefResult r = a.results[i];
      if (!std::isnan(a.control)) r.extra_json = WithControlRatio(r.extra_json, a.control / best);
      SIMTUNE_RETURN_IF_ERROR(
          store.AddRefResult(MakeRefRow(reference, target, candidate_ids[begin + i], batch[begin + i].hash, r)));
    }
    return Status::Ok();
  };
  auto slow = [&](const Attempt& a) { return !std::isnan(a.control) && a.control > (1 + control.tolerance) * best; };

  for (size_t k = 0; k < n_chunks; ++k) {
    kept[k] = measure(k);
    if (!std::isnan(kept[k].control)) best = std::min(best, kept[k].control);
    SIMTUNE_RETURN_IF_ERROR(store_rows(k, kept[k]));
    if (progress) progress(std::min(batch.size(), (k + 1) * chunk), batch.size());
  }
  ChunkControlReport rep;
  for (const auto& a : kept) {
    if (std::isnan(a.control)) continue;
    ++rep.chunks;
    rep.worst_ratio = std::max(rep.worst_ratio, a.control / best);
    if (slow(a)) ++rep.slow;
  }
  // Chunks measured in a slow spell, measured again after the batch (a spell lasts seconds).
  for (int pass = 0; controlled && pass < control.passes; ++pass) {
    bool any = false;
    for (size_t k = 0; k < n_chunks; ++k) {
      if (!slow(kept[k])) continue;
      any = true;
      Attempt again = measure(k);
      ++rep.attempts;
      if (std::isnan(again.control) || again.control >= kept[k].control) continue;
      best = std::min(best, again.control);
      // A candidate that failed only in the quieter attempt (a timeout under load) keeps its
      // earlier result, and no new row.
      std::vector<size_t> fresh;
      for (size_t i = 0; i < again.results.size(); ++i) {
        if (!again.results[i].ok() && kept[k].results[i].ok()) again.results[i] = kept[k].results[i];
        else fresh.push_back(i);
      }
      kept[k] = std::move(again);
      if (!fresh.empty()) SIMTUNE_RETURN_IF_ERROR(store_rows(k, kept[k], fresh));
    }
    if (!any) break;
  }
  for (const auto& a : kept) rep.still_slow += slow(a) ? 1 : 0;
  if (report) *report = rep;
  std::vector<RefResult> results;
  results.reserve(batch.size());
  for (auto& a : kept)
    for (auto& r : a.results) results.push_back(std::move(r));
  return results;
}

}  // namespace simtune
