// Registration functions of the built-in predictors, called from Predictors().
#pragma once

#include "simtune/predictor.h"

namespace simtune {
void RegisterLinearPredictors(PredictorRegistry& registry);     // linear, ridge
void RegisterXgboostPredictors(PredictorRegistry& registry);    // xgb, xgb-rank
void RegisterGpPredictor(PredictorRegistry& registry);          // gp
void RegisterBaselinePredictors(PredictorRegistry& registry);   // insn-count, mca, random
void RegisterCostModelPredictor(PredictorRegistry& registry);   // cost
void RegisterEnsemblePredictors(PredictorRegistry& registry);   // rank-avg
}  // namespace simtune
