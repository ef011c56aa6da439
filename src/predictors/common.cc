#include "src/predictors/common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "simtune/metrics.h"
#include "simtune/strings.h"

namespace simtune::predictors {

Result<Options> Options::Parse(const std::string& text, const std::string& predictor,
                               const std::map<std::string, std::string>& defaults) {
  Options out;
  out.predictor_ = predictor;
  out.values_ = defaults;
  std::vector<std::string> valid;
  for (const auto& [key, value] : defaults) valid.push_back(key);
  if (Trim(text).empty()) return out;
  std::set<std::string> seen;
  for (const std::string& raw : Split(text, ',')) {
    std::string part = Trim(raw);
    size_t eq = part.find('=');
    if (eq == std::string::npos)
      return Error{predictor + " options '" + text + "': expected key=value; got '" + part + "'"};
    std::string key = Trim(part.substr(0, eq));
    std::string value = Trim(part.substr(eq + 1));
    if (!defaults.count(key)) {
      if (valid.empty()) return Error{predictor + " takes no options; got '" + key + "'"};
      return UnknownName(predictor + " option", key, valid);
    }
    if (!seen.insert(key).second)
      return Error{predictor + " options '" + text + "': '" + key + "' given twice"};
    if (value.empty()) return Error{predictor + " option " + key + ": expected a value"};
    out.values_[key] = value;
  }
  return out;
}

const std::string& Options::String(const std::string& key) const {
  auto it = values_.find(key);
  SIMTUNE_CHECK_MSG(it != values_.end(), key);
  return it->second;
}

Result<int64_t> Options::Int(const std::string& key, int64_t min_value,
                             int64_t max_value) const {
  std::string what = predictor_ + " option " + key;
  SIMTUNE_ASSIGN_OR_RETURN(int64_t v, ParseInt(String(key), what));
  if (v < min_value || v > max_value)
    return Error{what + ": must be in [" + std::to_string(min_value) + ", " +
                 std::to_string(max_value) + "]; got " + std::to_string(v)};
  return v;
}

Result<double> Options::Double(const std::string& key, double min_value,
                               double max_value) const {
  std::string what = predictor_ + " option " + key;
  SIMTUNE_ASSIGN_OR_RETURN(double v, ParseDouble(String(key), what));
  if (!std::isfinite(v) || v < min_value || v > max_value)
    return Error{what + ": must be in [" + FormatDouble(min_value) + ", " +
                 FormatDouble(max_value) + "]; got " + String(key)};
  return v;
}

Result<std::string> Options::OneOf(const std::string& key,
                                   const std::vector<std::string>& allowed) const {
  const std::string& v = String(key);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    return Error{predictor_ + " option " + key + ": expected one of " + Join(allowed, ", ") +
                 "; got '" + v + "'"};
  return v;
}

std::string Options::Canonical() const {
  std::vector<std::string> parts;
  for (const auto& [key, value] : values_) parts.push_back(key + "=" + value);
  return Join(parts, ",");
}

std::string FirstEndingIn(const std::vector<std::string>& names, const std::string& suffix) {
  for (const auto& n : names)
    if (n.size() > suffix.size() && n.ends_with(suffix)) return n;
  return "";
}

Result<std::vector<int64_t>> MapFeatures(const std::vector<std::string>& names,
                                         const Dataset& x, const std::string& predictor) {
  std::vector<int64_t> cols;
  cols.reserve(names.size());
  for (const std::string& name : names) {
    int64_t c = x.FeatureIndex(name);
    if (c < 0)
      return Error{"input lacks feature '" + name + "' that the " + predictor +
                   " model was trained with"};
    cols.push_back(c);
  }
  return cols;
}

bool MostlyPresent(const Eigen::MatrixXd& x, int64_t c) {
  const int64_t missing = x.col(c).array().isNaN().count();
  return missing < x.rows() &&
         static_cast<double>(missing) <= kMaxMissingShare * static_cast<double>(x.rows());
}

double PresentMean(const Eigen::MatrixXd& m, int64_t c) {
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < m.rows(); ++i)
    if (!std::isnan(m(i, c))) {
      sum += m(i, c);
      ++n;
    }
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

int64_t ImputeGroupMeans(Eigen::MatrixXd& m, int64_t c, const std::vector<int>& groups,
                         double fallback) {
  std::map<int, std::pair<double, int64_t>> sums;
  int64_t missing = 0;
  for (int64_t i = 0; i < m.rows(); ++i) {
    if (std::isnan(m(i, c))) {
      ++missing;
      continue;
    }
    auto& s = sums[groups[static_cast<size_t>(i)]];
    s.first += m(i, c);
    s.second += 1;
  }
  if (missing == 0) return 0;
  for (int64_t i = 0; i < m.rows(); ++i) {
    if (!std::isnan(m(i, c))) continue;
    auto it = sums.find(groups[static_cast<size_t>(i)]);
    m(i, c) = it != sums.end() ? it->second.first / static_cast<double>(it->second.second)
                               : fallback;
  }
  return missing;
}

Result<DenseFeatures> DenseFeatures::Fit(const Dataset& train, const std::string& predictor) {
  DenseFeatures f;
  f.all = train.feature_names;
  std::vector<int64_t> keep;
  for (int64_t c = 0; c < train.cols(); ++c) {
    if (MostlyPresent(train.X, c)) {
      keep.push_back(c);
      f.used.push_back(train.feature_names[c]);
    } else {
      f.dropped.push_back(train.feature_names[c]);
    }
  }
  if (keep.empty())
    return Error{"training data: every feature is missing (NaN) in more than half the rows; " +
                 predictor + " needs at least one feature present in most rows"};
  const int64_t n = train.rows();
  f.mean.resize(keep.size());
  f.scale.resize(keep.size());
  f.lo.resize(keep.size());
  f.hi.resize(keep.size());
  for (size_t j = 0; j < keep.size(); ++j) {
    Eigen::MatrixXd col = train.X.col(keep[j]);
    ImputeGroupMeans(col, 0, train.group, PresentMean(col, 0));
    double m = col.mean();
    double var = n > 1 ? (col.array() - m).square().sum() / static_cast<double>(n - 1) : 0.0;
    double sd = std::sqrt(var);
    // Relative threshold: a column constant up to rounding would otherwise blow up noise.
    f.mean[j] = m;
    f.scale[j] = sd > 1e-12 * std::max(1.0, std::abs(m)) ? sd : 1.0;
    f.lo[j] = (col.minCoeff() - m) / f.scale[j];
    f.hi[j] = (col.maxCoeff() - m) / f.scale[j];
  }
  return f;
}

Result<Eigen::MatrixXd> DenseFeatures::Transform(const Dataset& x,
                                                  const std::string& predictor) const {
  SIMTUNE_ASSIGN_OR_RETURN(std::vector<int64_t> cols, MapFeatures(used, x, predictor));
  Eigen::MatrixXd z(x.rows(), static_cast<int64_t>(cols.size()));
  for (size_t j = 0; j < cols.size(); ++j) {
    const auto jj = static_cast<int64_t>(j);
    z.col(jj) = x.X.col(cols[j]);
    ImputeGroupMeans(z, jj, x.group, mean[jj]);
    for (int64_t i = 0; i < x.rows(); ++i)
      z(i, jj) = std::clamp((z(i, jj) - mean[jj]) / scale[jj], lo[jj], hi[jj]);
  }
  return z;
}

nlohmann::json DenseFeatures::ToJson() const {
  return {{"features", all}, {"used", used}, {"dropped_features", dropped},
          {"mean", predictors::ToJson(mean)}, {"scale", predictors::ToJson(scale)},
          {"lo", predictors::ToJson(lo)}, {"hi", predictors::ToJson(hi)}};
}

Result<DenseFeatures> DenseFeatures::FromJson(const nlohmann::json& j, const std::string& field) {
  DenseFeatures f;
  try {
    f.all = j.at("features").get<std::vector<std::string>>();
    f.used = j.at("used").get<std::vector<std::string>>();
    f.dropped = j.at("dropped_features").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string("invalid feature record: ") + e.what()};
  }
  auto vector = [&](const char* key) {
    return VectorFromJson(j.value(key, nlohmann::json()), field + "." + key);
  };
  SIMTUNE_ASSIGN_OR_RETURN(f.mean, vector("mean"));
  SIMTUNE_ASSIGN_OR_RETURN(f.scale, vector("scale"));
  SIMTUNE_ASSIGN_OR_RETURN(f.lo, vector("lo"));
  SIMTUNE_ASSIGN_OR_RETURN(f.hi, vector("hi"));
  if (f.mean.size() != static_cast<int64_t>(f.used.size()) || f.scale.size() != f.mean.size() ||
      f.lo.size() != f.mean.size() || f.hi.size() != f.mean.size())
    return Error{"invalid feature record: " + std::to_string(f.used.size()) + " features but " +
                 std::to_string(f.mean.size()) + " means, " + std::to_string(f.scale.size()) +
                 " scales, " + std::to_string(f.lo.size()) + "/" + std::to_string(f.hi.size()) +
                 " range bounds"};
  for (int64_t i = 0; i < f.scale.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    if (!(f.scale[i] > 0))
      return Error{"invalid model: " + field + ".scale" + at + ": expected a number > 0; got " +
                   FormatDouble(f.scale[i])};
    if (f.lo[i] > f.hi[i])
      return Error{"invalid model: " + field + ".lo" + at + " is above " + field + ".hi" + at +
                   " (" + FormatDouble(f.lo[i]) + " > " + FormatDouble(f.hi[i]) + ")"};
  }
  return f;
}

GroupScale GroupScale::Fit(const Dataset& train, const Eigen::VectorXd& fitted_log) {
  SIMTUNE_CHECK(fitted_log.size() == train.rows());
  GroupScale s;
  std::vector<int> groups = train.Groups();
  std::vector<std::vector<int64_t>> rows = train.RowsByGroup();
  double total = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    double sum = 0;
    for (int64_t r : rows[g]) sum += std::log(train.y[r]) - fitted_log[r];
    double m = sum / static_cast<double>(rows[g].size());
    s.log_mean[groups[g]] = m;
    total += m;
  }
  s.default_log_mean = groups.empty() ? 0.0 : total / static_cast<double>(groups.size());
  return s;
}

double GroupScale::Offset(int group) const {
  auto it = log_mean.find(group);
  return it == log_mean.end() ? default_log_mean : it->second;
}

nlohmann::json GroupScale::ToJson() const {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& [g, m] : log_mean) groups.push_back({g, m});
  return {{"group_log_mean", groups}, {"default_log_mean", default_log_mean}};
}

Result<GroupScale> GroupScale::FromJson(const nlohmann::json& j, const std::string& field) {
  GroupScale s;
  if (!j.is_object()) return Error{"invalid model: " + field + ": expected an object"};
  const nlohmann::json& groups = j.value("group_log_mean", nlohmann::json());
  if (!groups.is_array())
    return Error{"invalid model: " + field + ".group_log_mean: expected an array"};
  for (size_t i = 0; i < groups.size(); ++i) {
    const std::string at = field + ".group_log_mean[" + std::to_string(i) + "]";
    if (!groups[i].is_array() || groups[i].size() != 2)
      return Error{"invalid model: " + at + ": expected [group, offset]"};
    SIMTUNE_ASSIGN_OR_RETURN(int64_t group, IntFromJson(groups[i][0], at + "[0]", INT32_MIN,
                                                        INT32_MAX));
    SIMTUNE_ASSIGN_OR_RETURN(double offset, FiniteFromJson(groups[i][1], at + "[1]"));
    if (!s.log_mean.emplace(static_cast<int>(group), offset).second)
      return Error{"invalid model: " + at + ": group " + std::to_string(group) + " listed twice"};
  }
  SIMTUNE_ASSIGN_OR_RETURN(s.default_log_mean, FiniteFromJson(j.value("default_log_mean",
                                                                      nlohmann::json()),
                                                              field + ".default_log_mean"));
  return s;
}

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void Shuffle(std::vector<int64_t>& v, uint64_t seed) {
  uint64_t state = Mix64(seed);
  for (size_t i = v.size(); i > 1; --i) {
    state = Mix64(state);
    std::swap(v[i - 1], v[state % i]);
  }
}

Eigen::MatrixXd CentreWithinGroups(const Dataset& data, const Eigen::MatrixXd& z) {
  Eigen::MatrixXd out = z;
  for (const auto& rows : data.RowsByGroup()) {
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(z.cols());
    for (int64_t r : rows) mean += z.row(r);
    mean /= static_cast<double>(rows.size());
    for (int64_t r : rows) out.row(r) -= mean;
  }
  return out;
}

std::vector<std::vector<int64_t>> CvFolds(const Dataset& train, int k, uint64_t seed) {
  std::vector<std::vector<int64_t>> by_group = train.RowsByGroup();
  std::vector<std::vector<int64_t>> folds;
  if (by_group.size() >= 2) {
    int nf = std::min<int>(k, static_cast<int>(by_group.size()));
    if (nf < 2) return {};
    std::vector<int64_t> order(by_group.size());
    for (size_t g = 0; g < order.size(); ++g) order[g] = static_cast<int64_t>(g);
    Shuffle(order, seed);
    folds.resize(nf);
    for (size_t i = 0; i < order.size(); ++i) {
      auto& rows = by_group[order[i]];
      folds[i % nf].insert(folds[i % nf].end(), rows.begin(), rows.end());
    }
  } else {
    int64_t n = train.rows();
    int nf = static_cast<int>(std::min<int64_t>(k, n));
    if (nf < 2) return {};
    std::vector<int64_t> order(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    Shuffle(order, seed);
    folds.resize(nf);
    for (int64_t i = 0; i < n; ++i) folds[i % nf].push_back(order[i]);
  }
  for (auto& f : folds) std::sort(f.begin(), f.end());
  return folds;
}

std::vector<int64_t> Complement(int64_t rows, const std::vector<int64_t>& held_out) {
  std::vector<char> out(rows, 0);
  for (int64_t r : held_out) out[r] = 1;
  std::vector<int64_t> keep;
  for (int64_t r = 0; r < rows; ++r)
    if (!out[r]) keep.push_back(r);
  return keep;
}

double CentredSquaredError(const Dataset& held_out, const Eigen::VectorXd& predicted) {
  Eigen::VectorXd truth = GroupCenteredLogTarget(held_out);
  double sse = 0;
  for (const auto& rows : held_out.RowsByGroup()) {
    double m = 0;
    for (int64_t r : rows) m += predicted[r];
    m /= static_cast<double>(rows.size());
    for (int64_t r : rows) {
      double d = (predicted[r] - m) - truth[r];
      sse += d * d;
    }
  }
  return held_out.rows() ? sse / static_cast<double>(held_out.rows()) : 0.0;
}

double MeanGroupSpearman(const Dataset& held_out, const Eigen::VectorXd& score) {
  double sum = 0;
  int count = 0;
  for (const auto& rows : held_out.RowsByGroup()) {
    if (rows.size() < 2) continue;
    Eigen::VectorXd t(rows.size()), s(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      t[i] = held_out.y[rows[i]];
      s[i] = score[rows[i]];
    }
    double rho = Spearman(t, s);
    if (std::isnan(rho)) continue;
    sum += rho;
    ++count;
  }
  return count ? sum / count : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json ToJson(const Eigen::VectorXd& v) {
  nlohmann::json a = nlohmann::json::array();
  for (int64_t i = 0; i < v.size(); ++i) a.push_back(v[i]);
  return a;
}

nlohmann::json ToJson(const Eigen::MatrixXd& m) {
  nlohmann::json a = nlohmann::json::array();
  for (int64_t i = 0; i < m.rows(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t j = 0; j < m.cols(); ++j) row.push_back(m(i, j));
    a.push_back(std::move(row));
  }
  return a;
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Result<double> FiniteFromJson(const nlohmann::json& j, const std::string& what) {
  if (j.is_null()) return Error{"invalid model: " + what + " missing"};
  if (!j.is_number())
    return Error{"invalid model: " + what + ": expected a finite number; got " + j.dump()};
  const double v = j.get<double>();
  if (!std::isfinite(v))
    return Error{"invalid model: " + what + ": expected a finite number; got " + FormatDouble(v)};
  return v;
}

Result<double> BoundedFromJson(const nlohmann::json& j, const std::string& what,
                               double min_value, bool strict) {
  SIMTUNE_ASSIGN_OR_RETURN(double v, FiniteFromJson(j, what));
  if (strict ? !(v > min_value) : !(v >= min_value))
    return Error{"invalid model: " + what + ": expected a number " + (strict ? "> " : ">= ") +
                 FormatDouble(min_value) + "; got " + FormatDouble(v)};
  return v;
}

Result<int64_t> IntFromJson(const nlohmann::json& j, const std::string& what, int64_t min_value,
                            int64_t max_value) {
  const std::string range =
      "an integer in [" + std::to_string(min_value) + ", " + std::to_string(max_value) + "]";
  if (j.is_null()) return Error{"invalid model: " + what + " missing"};
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(max_value))
    return Error{"invalid model: " + what + ": expected " + range + "; got " + j.dump()};
  if (!j.is_number_integer())
    return Error{"invalid model: " + what + ": expected " + range + "; got " +
                 (j.is_number() ? FormatDouble(j.get<double>()) : j.dump())};
  const int64_t v = j.get<int64_t>();
  if (v < min_value || v > max_value)
    return Error{"invalid model: " + what + ": expected " + range + "; got " + j.dump()};
  return v;
}

Result<Eigen::VectorXd> VectorFromJson(const nlohmann::json& j, const std::string& what) {
  if (!j.is_array()) return Error{"invalid model: " + what + " is not an array"};
  Eigen::VectorXd v(static_cast<int64_t>(j.size()));
  for (size_t i = 0; i < j.size(); ++i) {
    SIMTUNE_ASSIGN_OR_RETURN(v[static_cast<int64_t>(i)],
                             FiniteFromJson(j[i], what + "[" + std::to_string(i) + "]"));
  }
  return v;
}

Result<Eigen::MatrixXd> MatrixFromJson(const nlohmann::json& j, const std::string& what) {
  if (!j.is_array()) return Error{"invalid model: " + what + " is not an array"};
  int64_t rows = static_cast<int64_t>(j.size());
  int64_t cols = rows ? (j[0].is_array() ? static_cast<int64_t>(j[0].size()) : -1) : 0;
  Eigen::MatrixXd m(rows, std::max<int64_t>(cols, 0));
  for (int64_t i = 0; i < rows; ++i) {
    const auto& row = j[i];
    if (!row.is_array() || static_cast<int64_t>(row.size()) != cols)
      return Error{"invalid model: " + what + " is not a rectangular matrix"};
    for (int64_t c = 0; c < cols; ++c) {
      SIMTUNE_ASSIGN_OR_RETURN(
          m(i, c), FiniteFromJson(row[c], what + "[" + std::to_string(i) + "][" +
                                              std::to_string(c) + "]"));
    }
  }
  return m;
}

Error NotFitted(const std::string& predictor) {
  return Error{"the " + predictor + " predictor has no model; call Fit or load a model first"};
}

}  // namespace simtune::predictors
