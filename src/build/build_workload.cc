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
                                         const std::vector<Config>& configs, const Target& target,
                                         const std::function<void(size_t, Artifact&)>& on_built) {
  return ParallelMap<Artifact>(configs.size(), options_.jobs, [&](size_t i) {
    Artifact a = Build(workload, configs[i], target);
    if (on_built) on_built(i, a);
    return a;
  });
}

}  // namespace simtune
