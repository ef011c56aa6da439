// Internal: factories of the built-in operators, registered from one function
// (RegisterBuiltinOperators, called by Operators()).
#pragma once

#include <memory>

#include "simtune/workload.h"

namespace simtune::workloads {

std::unique_ptr<Operator> NewGemmOperator();
std::unique_ptr<Operator> NewMvmOperator();
std::unique_ptr<Operator> NewConv2dOperator();
std::unique_ptr<Operator> NewDwconv2dOperator();
std::unique_ptr<Operator> NewCustomOperator();
// A custom workload's identity: the first 16 hex digits of the SHA-256 of its spec, kernel and
// reference files' contents. Errors: the spec's (unreadable, invalid).
Result<std::string> CustomContentHash(const std::string& spec_path);

void RegisterBuiltinOperators(OperatorRegistry& registry);

}  // namespace simtune::workloads
