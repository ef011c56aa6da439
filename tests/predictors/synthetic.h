// Synthetic datasets for predictor and metric tests: run times that follow a known relation
// to the features, with workloads (groups) of very different scales.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "simtune/predictor.h"

namespace simtune::testing {

struct SyntheticSpec {
  std::vector<double> coef = {1.0, -0.5, 0.25, 0.0, 0.0};   // one per feature f0, f1, ...
  int groups = 6;
  int rows_per_group = 60;
  int first_group = 0;       // group ids first_group, first_group + 1, ...
  double noise = 0.05;       // sd of the log-normal noise
  bool insn_count = false;   // add an "insn_count" column that tracks the run time (noisy)
                             // and its log as "sim.log_insn" (the cost model's event count)
  uint64_t seed = 1;
};

// y = scale_g * exp(coef . x + noise), x ~ N(0, 1) per feature; scale_g spans 1e3 .. 1e7.
inline Dataset MakeSynthetic(const SyntheticSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const int d = static_cast<int>(spec.coef.size());
  const int n = spec.groups * spec.rows_per_group;
  Dataset data;
  for (int j = 0; j < d; ++j) data.feature_names.push_back("f" + std::to_string(j));
  if (spec.insn_count) {
    data.feature_names.push_back("insn_count");
    data.feature_names.push_back("sim.log_insn");
  }
  data.X.resize(n, static_cast<int64_t>(data.feature_names.size()));
  data.y.resize(n);
  for (int g = 0; g < spec.groups; ++g) {
    double scale = std::pow(10.0, 3.0 + 4.0 * g / std::max(1, spec.groups - 1));
    for (int i = 0; i < spec.rows_per_group; ++i) {
      int r = g * spec.rows_per_group + i;
      double lin = 0;
      for (int j = 0; j < d; ++j) {
        data.X(r, j) = normal(rng);
        lin += spec.coef[j] * data.X(r, j);
      }
      data.y[r] = scale * std::exp(lin + spec.noise * normal(rng));
      if (spec.insn_count) {
        data.X(r, d) = 1000.0 * std::exp(lin + 0.3 * normal(rng));
        data.X(r, d + 1) = std::log(data.X(r, d));
      }
      data.group.push_back(spec.first_group + g);
      data.ids.push_back(static_cast<int64_t>(r) + 1000 * spec.first_group);
    }
  }
  return data;
}

}  // namespace simtune::testing
