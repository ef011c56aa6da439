// MeasureAndStore (reference.h): the one place where a batch's reference results become rows.
#include "simtune/reference.h"
#include "simtune/store.h"

namespace simtune {

Result<std::vector<RefResult>> MeasureAndStore(Reference& reference,
                                               const std::vector<Artifact>& batch,
                                               const std::vector<int64_t>& candidate_ids,
                                               const Target& target, Store& store) {
  SIMTUNE_CHECK(batch.size() == candidate_ids.size());
  std::vector<RefResult> results = reference.Measure(batch, target);
  for (size_t i = 0; i < batch.size(); ++i) {
    RefRow row;
    row.candidate_id = candidate_ids[i];
    row.target = target.name;
    row.reference = reference.name();
    row.options = reference.options_key();
    row.artifact_hash = batch[i].hash;
    row.result = results[i];
    SIMTUNE_RETURN_IF_ERROR(store.AddRefResult(row));
  }
  return results;
}

}  // namespace simtune
