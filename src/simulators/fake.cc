// A deterministic simulator for tests: statistics derived from the artifact's hash, so that
// tests of the store, CLI and predictors need no real simulator. Options: "fail=STAGE" makes
// every run fail at that stage.
#include <functional>

#include "simtune/strings.h"
#include "src/simulators/builtin.h"

namespace simtune {
namespace {

class FakeSimulator : public Simulator {
 public:
  explicit FakeSimulator(std::string fail_stage) : fail_stage_(std::move(fail_stage)) {}
  std::string name() const override { return "fake"; }
  std::string options_key() const override { return fail_stage_.empty() ? "" : "fail=" + fail_stage_; }
  bool Supports(const Target&) const override { return true; }
  Status Available(const Target&) const override { return Status::Ok(); }
  SimResult Simulate(const Artifact& artifact, const Target&) const override {
    SimResult r;
    if (!artifact.ok()) {
      r.status = "failed";
      r.stage = "build";
      r.message = "artifact did not build";
      return r;
    }
    if (!fail_stage_.empty()) {
      r.status = "failed";
      r.stage = fail_stage_;
      r.message = "fake failure";
      return r;
    }
    uint64_t h = std::hash<std::string>{}(artifact.hash);
    r.status = "ok";
    r.stats.simulator = "fake";
    r.stats.insn_count = 1000 + h % 100000;
    r.stats.loads = r.stats.insn_count / 4;
    r.stats.stores = r.stats.insn_count / 10;
    r.stats.classes["load"] = *r.stats.loads;
    r.stats.classes["store"] = *r.stats.stores;
    r.stats.classes["int_alu"] = r.stats.insn_count - *r.stats.loads - *r.stats.stores;
    return r;
  }

 private:
  std::string fail_stage_;
};

}  // namespace

void RegisterFakeSimulator(SimulatorRegistry& registry) {
  registry.Register("fake", "deterministic statistics from the artifact hash (tests only)",
                    [](const std::string& options) -> Result<std::unique_ptr<Simulator>> {
                      std::string fail;
                      if (!Trim(options).empty()) {
                        if (!StartsWith(options, "fail="))
                          return Error{"fake simulator option '" + options + "': expected fail=STAGE"};
                        fail = options.substr(5);
                      }
                      return std::unique_ptr<Simulator>(new FakeSimulator(fail));
                    });
}

}  // namespace simtune
