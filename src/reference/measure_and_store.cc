// MeasureAndStore (reference.h): the one place where a batch's reference results become rows.
#include "simtune/reference.h"

#include <algorithm>

#include "simtune/store.h"
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

Result<std::vector<RefResult>> MeasureAndStore(Reference& reference,
                                               const std::vector<Artifact>& batch,
                                               const std::vector<int64_t>& candidate_ids,
                                               const Target& target, Store& store, size_t chunk,
                                               const std::function<void(size_t, size_t)>& progress) {
  SIMTUNE_CHECK(batch.size() == candidate_ids.size());
  if (chunk == 0) chunk = std::max<size_t>(batch.size(), 1);
  std::vector<RefResult> results;
  results.reserve(batch.size());
  for (size_t begin = 0; begin < batch.size(); begin += chunk) {
    size_t end = std::min(batch.size(), begin + chunk);
    std::vector<Artifact> part(batch.begin() + begin, batch.begin() + end);
    std::vector<RefResult> measured = reference.Measure(part, target);
    SIMTUNE_CHECK(measured.size() == part.size());
    for (size_t i = begin; i < end; ++i) {
      RefRow row = MakeRefRow(reference, target, candidate_ids[i], batch[i].hash, measured[i - begin]);
      SIMTUNE_RETURN_IF_ERROR(store.AddRefResult(row));
      results.push_back(row.result);
    }
    if (progress) progress(end, batch.size());
  }
  return results;
}

}  // namespace simtune
