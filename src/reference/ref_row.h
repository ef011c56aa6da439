// Shared by MeasureAndStore and the tune's measurement during the search: one reference
// result as the store's row.
#pragma once

#include <cstdint>
#include <string>

#include "simtune/reference.h"
#include "simtune/store.h"
#include "simtune/target.h"

namespace simtune {

// Under the reference's name and options key, for the artifact it was taken on.
inline RefRow MakeRefRow(const Reference& reference, const Target& target, int64_t candidate_id,
                         const std::string& artifact_hash, const RefResult& result) {
  RefRow row;
  row.candidate_id = candidate_id;
  row.target = target.name;
  row.reference = reference.name();
  row.options = reference.options_key();
  row.artifact_hash = artifact_hash;
  row.result = result;
  return row;
}

}  // namespace simtune
