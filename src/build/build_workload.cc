// The workload-level entry points live apart from builder.cc so that linking BuildSource
// alone does not pull in the operator code generators.
#include "parallel.h"
#include "simtune/build.h"

namespace simtune {

Artifact Builder::Build(const Workload& workload, const Config& config, const Target& target) {
  auto source = GenerateKernel(workload, config, CodegenContext{target.isa});
  if (!source.ok()) {
    Artifact a;
    a.target = target.name;
    a.status = "failed";
    a.stage = "generate";
    a.message = source.message();
    return a;
  }
  return BuildSource(*source, target);
}

std::vector<Artifact> Builder::BuildMany(const Workload& workload,
                                         const std::vector<Config>& configs,
                                         const Target& target) {
  return ParallelMap<Artifact>(configs.size(), options_.jobs, [&](size_t i) {
    return Build(workload, configs[i], target);
  });
}

}  // namespace simtune
