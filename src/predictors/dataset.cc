#include <cmath>
#include <map>
#include <set>

#include "simtune/predictor.h"

namespace simtune {

Status Dataset::Validate(const std::string& where, bool require_targets) const {
  auto n = [](auto v) { return std::to_string(v); };
  if (static_cast<int64_t>(feature_names.size()) != cols())
    return Error{where + ": " + n(feature_names.size()) + " feature names for " + n(cols()) +
                 " columns"};
  if (static_cast<int64_t>(group.size()) != rows())
    return Error{where + ": " + n(group.size()) + " group ids for " + n(rows()) + " rows"};
  if (static_cast<int64_t>(ids.size()) != rows())
    return Error{where + ": " + n(ids.size()) + " candidate ids for " + n(rows()) + " rows"};
  std::set<std::string> seen;
  for (const std::string& name : feature_names) {
    if (name.empty()) return Error{where + ": empty feature name"};
    if (!seen.insert(name).second) return Error{where + ": feature '" + name + "' appears twice"};
  }
  for (int64_t c = 0; c < cols(); ++c)
    for (int64_t r = 0; r < rows(); ++r)
      if (std::isinf(X(r, c)))
        return Error{where + ": feature '" + feature_names[c] + "' is infinite for candidate id " +
                     n(ids[r])};
  if (require_targets) {
    if (y.size() != rows())
      return Error{where + ": " + n(y.size()) + " run times for " + n(rows()) + " rows"};
    for (int64_t r = 0; r < rows(); ++r)
      if (!std::isfinite(y[r]) || y[r] <= 0)
        return Error{where + ": run time " + std::to_string(y[r]) + " for candidate id " +
                     n(ids[r]) + "; run times must be finite and > 0"};
  }
  return Status::Ok();
}

Dataset Dataset::Subset(const std::vector<int64_t>& row_list) const {
  Dataset out;
  out.feature_names = feature_names;
  const int64_t m = static_cast<int64_t>(row_list.size());
  out.X.resize(m, cols());
  bool has_y = y.size() == rows();
  if (has_y) out.y.resize(m);
  out.group.resize(m);
  out.ids.resize(m);
  for (int64_t i = 0; i < m; ++i) {
    int64_t r = row_list[i];
    SIMTUNE_CHECK(r >= 0 && r < rows());
    out.X.row(i) = X.row(r);
    if (has_y) out.y[i] = y[r];
    if (r < static_cast<int64_t>(group.size())) out.group[i] = group[r];
    if (r < static_cast<int64_t>(ids.size())) out.ids[i] = ids[r];
  }
  return out;
}

int64_t Dataset::FeatureIndex(const std::string& name) const {
  for (size_t c = 0; c < feature_names.size(); ++c)
    if (feature_names[c] == name) return static_cast<int64_t>(c);
  return -1;
}

std::vector<int> Dataset::Groups() const {
  std::set<int> s(group.begin(), group.end());
  return {s.begin(), s.end()};
}

std::vector<std::vector<int64_t>> Dataset::RowsByGroup() const {
  std::map<int, std::vector<int64_t>> by;
  for (size_t r = 0; r < group.size(); ++r) by[group[r]].push_back(static_cast<int64_t>(r));
  std::vector<std::vector<int64_t>> out;
  out.reserve(by.size());
  for (auto& [g, rows] : by) out.push_back(std::move(rows));
  return out;
}

Eigen::VectorXd GroupCenteredLogTarget(const Dataset& data) {
  Eigen::VectorXd t(data.rows());
  for (const auto& rows : data.RowsByGroup()) {
    double sum = 0;
    for (int64_t r : rows) {
      SIMTUNE_CHECK(data.y[r] > 0);
      t[r] = std::log(data.y[r]);
      sum += t[r];
    }
    double mean = sum / static_cast<double>(rows.size());
    for (int64_t r : rows) t[r] -= mean;
  }
  return t;
}

}  // namespace simtune
