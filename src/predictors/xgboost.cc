// "xgb" (regression of the group-centred log run time) and "xgb-rank" (learning to rank,
// one query group per workload) through XGBoost's C API. NaN is XGBoost's missing value.
//
// Hyperparameters come from a small grid scored by grouped k-fold CV. The number of rounds is
// scored without refitting: each (depth, eta) is boosted once to the largest round count
// and predicted with iteration_end at every smaller one.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <xgboost/c_api.h>

#include "src/predictors/builtin.h"
#include "src/predictors/common.h"

namespace simtune {
namespace {

using predictors::GroupScale;
using predictors::Options;

// The grid is kept small so that a fit on 2,000 candidates x 60 features takes seconds:
// trees deeper than 4 cost several times more per round, and 64 histogram bins (XGBoost's
// default is 256) are plenty for a few thousand rows and about 3x cheaper.
constexpr int kDepths[] = {2, 4};
struct EtaRounds {
  double eta;
  int rounds[3];
};
constexpr EtaRounds kEtaRounds[] = {{0.3, {25, 50, 100}}, {0.1, {50, 100, 200}}};
constexpr const char* kMaxBin = "64";
// rank:ndcg: graded relevance 0..30 (XGBoost 1.7's gain is 2^rel - 1 in int arithmetic, so
// 30 is the most it takes); the top grade goes to the fastest ~3 % of a workload.
constexpr int kNdcgLevels = 31;
// Lambda-rank hessians are small; XGBoost's default min_child_weight of 1 stops rank:ndcg
// from splitting at all on groups of tens of rows.
constexpr const char* kRankMinChildWeight = "0.01";

Status Check(int rc, const char* what) {
  if (rc == 0) return Status::Ok();
  return Error{std::string("xgboost ") + what + " failed: " + XGBGetLastError()};
}

class DMatrix {
 public:
  DMatrix() = default;
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  ~DMatrix() {
    if (h_) XGDMatrixFree(h_);
  }
  DMatrixHandle* out() { return &h_; }
  DMatrixHandle get() const { return h_; }

 private:
  DMatrixHandle h_ = nullptr;
};

class Booster {
 public:
  Booster() = default;
  Booster(Booster&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Booster& operator=(Booster&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~Booster() {
    if (h_) XGBoosterFree(h_);
  }
  BoosterHandle* out() { return &h_; }
  BoosterHandle get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  BoosterHandle h_ = nullptr;
};

struct Params {
  int max_depth = 3;
  double eta = 0.3;
  int rounds = 50;
};

// Feature matrix of `rows` (all rows when empty is false) in XGBoost's row-major float layout.
Status FillMatrix(const Dataset& d, const std::vector<int64_t>& cols,
                  const std::vector<int64_t>& rows, DMatrix& m) {
  std::vector<float> data(rows.size() * cols.size());
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < cols.size(); ++j)
      data[i * cols.size() + j] = static_cast<float>(d.X(rows[i], cols[j]));
  return Check(XGDMatrixCreateFromMat(data.data(), rows.size(), cols.size(),
                                      std::numeric_limits<float>::quiet_NaN(), m.out()),
               "matrix creation");
}

class XgbPredictor : public Predictor {
 public:
  XgbPredictor(bool rank, std::string objective, Options options, int folds, uint64_t seed,
               int threads)
      : rank_(rank),
        objective_(std::move(objective)),
        options_(std::move(options)),
        folds_(folds),
        seed_(seed),
        threads_(threads) {}

  std::string name() const override { return rank_ ? "xgb-rank" : "xgb"; }
  std::string options() const override { return options_.Canonical(); }
  bool predicts_time() const override { return !rank_; }
  const std::vector<std::string>& feature_names() const override { return features_; }

  Status Fit(const Dataset& train) override {
    SIMTUNE_RETURN_IF_ERROR(train.Validate("training data", true));
    if (train.rows() < 2)
      return Error{"training data: " + name() + " needs at least 2 candidates; got " +
                   std::to_string(train.rows())};
    SIMTUNE_ASSIGN_OR_RETURN(Params params, ChooseParams(train));
    SIMTUNE_ASSIGN_OR_RETURN(Booster booster, Train(train, params));
    if (!rank_) {
      std::vector<int64_t> cols(train.cols());
      std::iota(cols.begin(), cols.end(), 0);
      SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd fitted, Raw(booster, train, cols, 0));
      scale_ = GroupScale::Fit(train, fitted);
    }
    booster_ = std::move(booster);
    params_ = params;
    features_ = train.feature_names;
    return Status::Ok();
  }

  Result<Eigen::VectorXd> Predict(const Dataset& x) const override {
    if (!booster_) return predictors::NotFitted(name());
    SIMTUNE_RETURN_IF_ERROR(x.Validate("prediction input", false));
    SIMTUNE_ASSIGN_OR_RETURN(std::vector<int64_t> cols,
                             predictors::MapFeatures(features_, x, name()));
    SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd raw, Raw(booster_, x, cols, 0));
    Eigen::VectorXd out(x.rows());
    for (int64_t i = 0; i < x.rows(); ++i)
      out[i] = rank_ ? -raw[i] : std::exp(raw[i] + scale_.Offset(x.group[i]));
    return out;
  }

  nlohmann::json SaveJson() const override {
    SIMTUNE_CHECK(static_cast<bool>(booster_));
    bst_ulong len = 0;
    const char* buf = nullptr;
    Status s = Check(XGBoosterSaveModelToBuffer(booster_.get(), R"({"format":"json"})", &len, &buf),
                     "model save");
    SIMTUNE_CHECK_MSG(s.ok(), s.ok() ? "" : s.message());
    nlohmann::json j = {{"features", features_},
                        {"booster", nlohmann::json::parse(buf, buf + len)},
                        {"chosen",
                         {{"max_depth", params_.max_depth},
                          {"eta", params_.eta},
                          {"rounds", params_.rounds}}}};
    if (!rank_) j["scale"] = scale_.ToJson();
    return j;
  }

  Status LoadJson(const nlohmann::json& model) override {
    if (!model.is_object()) return Error{"invalid model: not an object"};
    std::vector<std::string> features;
    Params params;
    GroupScale scale;
    try {
      features = model.at("features").get<std::vector<std::string>>();
      if (!model.at("booster").is_object()) return Error{"invalid model: booster is not an object"};
    } catch (const nlohmann::json::exception& e) {
      return Error{std::string("invalid model: ") + e.what()};
    }
    const auto& chosen = model.value("chosen", nlohmann::json::object());
    auto field = [&](const char* key) { return chosen.value(key, nlohmann::json()); };
    SIMTUNE_ASSIGN_OR_RETURN(int64_t depth, predictors::IntFromJson(field("max_depth"),
                                                                    "chosen.max_depth", 1, 64));
    SIMTUNE_ASSIGN_OR_RETURN(params.eta, predictors::BoundedFromJson(field("eta"), "chosen.eta", 0,
                                                                     /*strict=*/true));
    SIMTUNE_ASSIGN_OR_RETURN(int64_t rounds, predictors::IntFromJson(field("rounds"),
                                                                     "chosen.rounds", 1, 1000000));
    params.max_depth = static_cast<int>(depth);
    params.rounds = static_cast<int>(rounds);
    if (!rank_) {
      SIMTUNE_ASSIGN_OR_RETURN(scale,
                               GroupScale::FromJson(model.value("scale", nlohmann::json()), "scale"));
    }
    std::string text = model["booster"].dump();
    Booster booster;
    SIMTUNE_RETURN_IF_ERROR(Check(XGBoosterCreate(nullptr, 0, booster.out()), "booster creation"));
    SIMTUNE_RETURN_IF_ERROR(
        Check(XGBoosterLoadModelFromBuffer(booster.get(), text.data(), text.size()), "model load"));
    SIMTUNE_RETURN_IF_ERROR(SetRuntimeParams(booster));
    bst_ulong nfeat = 0;
    SIMTUNE_RETURN_IF_ERROR(Check(XGBoosterGetNumFeature(booster.get(), &nfeat), "model query"));
    if (nfeat != features.size())
      return Error{"invalid model: booster has " + std::to_string(nfeat) + " features; record lists " +
                   std::to_string(features.size())};
    booster_ = std::move(booster);
    features_ = std::move(features);
    params_ = params;
    scale_ = std::move(scale);
    return Status::Ok();
  }

 private:
  Status SetRuntimeParams(const Booster& b) const {
    SIMTUNE_RETURN_IF_ERROR(Check(XGBoosterSetParam(b.get(), "verbosity", "0"), "set verbosity"));
    if (threads_ > 0)
      SIMTUNE_RETURN_IF_ERROR(Check(
          XGBoosterSetParam(b.get(), "nthread", std::to_string(threads_).c_str()), "set nthread"));
    return Status::Ok();
  }

  // Training labels. Regression: the centred log target. pairwise: the same, negated and
  // shifted to be >= 0 (higher label = more relevant = faster). ndcg: graded relevance by
  // within-group rank of the run time, kNdcgLevels - 1 for the fastest down to 0.
  Eigen::VectorXd Labels(const Dataset& d) const {
    Eigen::VectorXd t = GroupCenteredLogTarget(d);
    if (!rank_) return t;
    if (objective_ == "rank:pairwise") return (t.maxCoeff() - t.array()).matrix();
    Eigen::VectorXd label(d.rows());
    for (const auto& rows : d.RowsByGroup()) {
      const double n = static_cast<double>(rows.size());
      for (int64_t r : rows) {
        int64_t faster = 0;
        for (int64_t o : rows) faster += d.y[o] < d.y[r];
        label[r] = (kNdcgLevels - 1) - std::floor(kNdcgLevels * static_cast<double>(faster) / n);
      }
    }
    return label;
  }

  Result<Booster> Train(const Dataset& d, const Params& p) const {
    // Query groups must be contiguous for XGBoost: order rows by group.
    std::vector<int64_t> order(d.rows());
    std::iota(order.begin(), order.end(), 0);
    if (rank_)
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return d.group[a] < d.group[b]; });
    std::vector<int64_t> cols(d.cols());
    std::iota(cols.begin(), cols.end(), 0);
    DMatrix m;
    SIMTUNE_RETURN_IF_ERROR(FillMatrix(d, cols, order, m));
    Eigen::VectorXd labels = Labels(d);
    std::vector<float> ordered(order.size());
    for (size_t i = 0; i < order.size(); ++i) ordered[i] = static_cast<float>(labels[order[i]]);
    SIMTUNE_RETURN_IF_ERROR(
        Check(XGDMatrixSetFloatInfo(m.get(), "label", ordered.data(), ordered.size()), "set labels"));
    if (rank_) {
      std::vector<unsigned> sizes;
      for (size_t i = 0; i < order.size(); ++i) {
        if (i == 0 || d.group[order[i]] != d.group[order[i - 1]]) sizes.push_back(0);
        ++sizes.back();
      }
      SIMTUNE_RETURN_IF_ERROR(
          Check(XGDMatrixSetUIntInfo(m.get(), "group", sizes.data(), sizes.size()), "set groups"));
    }
    Booster b;
    DMatrixHandle mats[] = {m.get()};
    SIMTUNE_RETURN_IF_ERROR(Check(XGBoosterCreate(mats, 1, b.out()), "booster creation"));
    SIMTUNE_RETURN_IF_ERROR(SetRuntimeParams(b));
    const std::pair<const char*, std::string> params[] = {
        {"objective", objective_},
        {"tree_method", "hist"},
        {"max_depth", std::to_string(p.max_depth)},
        {"eta", std::to_string(p.eta)},
        {"base_score", "0"},
        {"max_bin", kMaxBin},
        {"seed", std::to_string(seed_)},
    };
    for (const auto& [key, value] : params)
      SIMTUNE_RETURN_IF_ERROR(Check(XGBoosterSetParam(b.get(), key, value.c_str()), "set param"));
    if (rank_)
      SIMTUNE_RETURN_IF_ERROR(
          Check(XGBoosterSetParam(b.get(), "min_child_weight", kRankMinChildWeight), "set param"));
    for (int it = 0; it < p.rounds; ++it)
      SIMTUNE_RETURN_IF_ERROR(Check(XGBoosterUpdateOneIter(b.get(), it, m.get()), "training"));
    return b;
  }

  // Untransformed model output for x's `cols`, trees [0, rounds) (0 = all).
  Result<Eigen::VectorXd> Raw(const Booster& b, const Dataset& x, const std::vector<int64_t>& cols,
                              int rounds) const {
    Eigen::VectorXd out(x.rows());
    if (x.rows() == 0) return out;
    std::vector<int64_t> rows(x.rows());
    std::iota(rows.begin(), rows.end(), 0);
    DMatrix m;
    SIMTUNE_RETURN_IF_ERROR(FillMatrix(x, cols, rows, m));
    std::string config = R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": )" +
                         std::to_string(rounds) + R"(, "strict_shape": false})";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    SIMTUNE_RETURN_IF_ERROR(Check(
        XGBoosterPredictFromDMatrix(b.get(), m.get(), config.c_str(), &shape, &dim, &result),
        "prediction"));
    for (int64_t i = 0; i < x.rows(); ++i) out[i] = result[i];
    return out;
  }

  // Shallower trees and fewer rounds come first; a later point must be strictly better.
  Result<Params> ChooseParams(const Dataset& train) const {
    auto folds = predictors::CvFolds(train, folds_, seed_);
    std::vector<Params> grid;
    for (int depth : kDepths)
      for (const EtaRounds& er : kEtaRounds)
        for (int rounds : er.rounds) grid.push_back({depth, er.eta, rounds});
    if (folds.empty()) return grid.front();
    // Regression: summed centred squared error (lower better). Ranking: summed Spearman
    // over folds where it is defined (higher better); stored negated so lower is better.
    std::vector<double> loss(grid.size(), 0.0);
    std::vector<int> counted(grid.size(), 0);
    std::vector<int64_t> all_cols(train.cols());
    std::iota(all_cols.begin(), all_cols.end(), 0);
    for (const auto& held : folds) {
      Dataset tr = train.Subset(predictors::Complement(train.rows(), held));
      Dataset ho = train.Subset(held);
      for (int depth : kDepths) {
        for (const EtaRounds& er : kEtaRounds) {
          SIMTUNE_ASSIGN_OR_RETURN(Booster b, Train(tr, {depth, er.eta, er.rounds[2]}));
          for (size_t g = 0; g < grid.size(); ++g) {
            if (grid[g].max_depth != depth || grid[g].eta != er.eta) continue;
            SIMTUNE_ASSIGN_OR_RETURN(Eigen::VectorXd raw, Raw(b, ho, all_cols, grid[g].rounds));
            if (rank_) {
              double rho = predictors::MeanGroupSpearman(ho, -raw);
              if (std::isnan(rho)) continue;
              loss[g] -= rho;
            } else {
              loss[g] += predictors::CentredSquaredError(ho, raw) * static_cast<double>(ho.rows());
            }
            ++counted[g];
          }
        }
      }
    }
    size_t best = 0;
    for (size_t g = 1; g < grid.size(); ++g) {
      if (counted[g] == 0) continue;
      double lg = rank_ ? loss[g] / counted[g] : loss[g];
      double lb = counted[best] ? (rank_ ? loss[best] / counted[best] : loss[best])
                                : std::numeric_limits<double>::infinity();
      if (lg < lb) best = g;
    }
    return grid[best];
  }

  bool rank_;
  std::string objective_;
  Options options_;
  int folds_;
  uint64_t seed_;
  int threads_;
  Booster booster_;
  Params params_;
  std::vector<std::string> features_;
  GroupScale scale_;
};

}  // namespace

void RegisterXgboostPredictors(PredictorRegistry& registry) {
  registry.Register(
      "xgb", "XGBoost regression of log run time, grid by grouped cross-validation",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            Options o, Options::Parse(text, "xgb", {{"folds", "3"}, {"seed", "0"}, {"threads", "1"}}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t folds, o.Int("folds", 2, 100));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t seed, o.Int("seed", 0, INT32_MAX));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t threads, o.Int("threads", 0, 1024));
        return std::unique_ptr<Predictor>(
            new XgbPredictor(false, "reg:squarederror", std::move(o), static_cast<int>(folds),
                             static_cast<uint64_t>(seed), static_cast<int>(threads)));
      });
  registry.Register(
      "xgb-rank", "XGBoost learning to rank (pairwise or ndcg), one query group per workload",
      [](const std::string& text) -> Result<std::unique_ptr<Predictor>> {
        SIMTUNE_ASSIGN_OR_RETURN(
            Options o, Options::Parse(text, "xgb-rank",
                                      {{"objective", "pairwise"}, {"folds", "3"}, {"seed", "0"},
                                       {"threads", "1"}}));
        SIMTUNE_ASSIGN_OR_RETURN(std::string objective, o.OneOf("objective", {"pairwise", "ndcg"}));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t folds, o.Int("folds", 2, 100));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t seed, o.Int("seed", 0, INT32_MAX));
        SIMTUNE_ASSIGN_OR_RETURN(int64_t threads, o.Int("threads", 0, 1024));
        return std::unique_ptr<Predictor>(
            new XgbPredictor(true, "rank:" + objective, std::move(o), static_cast<int>(folds),
                             static_cast<uint64_t>(seed), static_cast<int>(threads)));
      });
}

}  // namespace simtune
