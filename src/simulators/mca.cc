// The "mca" simulator: dynamic block counts x static block cost. qemu (plugin option tbs=on,
// every statistic group off; user mode for linux targets, qemu-system-riscv64 for riscv64
// bare metal and the rvsim references, which run the same ELF) records how often each translation block of the ROI ran; the
// hot blocks (covering >= coverage of the ROI's instructions) are disassembled from the
// artifact and llvm-mca estimates, for the target's core model (Target::mca_cpu), the cycles
// of one iteration of each and what binds it. The record's extra.mca holds the weighted
// totals (mca_support.h: Combine), from which features.h derives mca.log_cycles and the
// bound-resource shares, and the "mca" predictor ranks by the cycle estimate alone.
//
// Options: cpu=NAME (default: the target's mca_cpu), coverage=FRACTION (default 0.99),
// iterations=auto|N (llvm-mca's iterations per block; auto, the default, gives long blocks
// fewer: mca_support.h IterationsFor), timeout=SECONDS (default 600), mode=auto|full (as qemu's).
#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>

#include "simtune/process.h"
#include "simtune/strings.h"
#include "src/simulators/builtin.h"
#include "src/simulators/mca_support.h"
#include "src/simulators/run_util.h"

namespace simtune {
namespace {

using sim_util::Failed;

struct McaOptions {
  std::string cpu;          // empty: the target's
  double coverage = 0.99;
  int iterations = 0;       // 0: auto
  std::string qemu_extra;   // timeout/mode, passed on to qemu
  double timeout_s = 600;
};

Result<McaOptions> ParseOptions(const std::string& text) {
  McaOptions o;
  if (Trim(text).empty()) return o;
  const std::vector<std::string> valid = {"coverage", "cpu", "iterations", "mode", "timeout"};
  std::set<std::string> seen;
  std::vector<std::string> qemu;
  for (const auto& item : Split(text, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error{"mca simulator option '" + item + "': expected key=value"};
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!seen.insert(key).second) return Error{"mca simulator option '" + key + "' given twice"};
    if (key == "cpu") {
      if (value.empty()) return Error{"mca simulator option cpu: expected a CPU name; got ''"};
      o.cpu = value;
    } else if (key == "coverage") {
      SIMTUNE_ASSIGN_OR_RETURN(o.coverage, ParseDouble(value, "mca simulator option coverage"));
      if (!(o.coverage > 0 && o.coverage <= 1))
        return Error{"mca simulator option coverage: expected a fraction in (0, 1]; got '" +
                     value + "'"};
    } else if (key == "iterations") {
      if (value != "auto") {
        auto n = ParseInt(value, "mca simulator option iterations");
        if (!n.ok() || *n < 1 || *n > 100000)
          return Error{"mca simulator option iterations: expected auto or a count in [1, 100000]; got '" +
                       value + "'"};
        o.iterations = static_cast<int>(*n);
      }
    } else if (key == "timeout" || key == "mode") {
      if (key == "timeout") {
        SIMTUNE_ASSIGN_OR_RETURN(o.timeout_s, ParseDouble(value, "mca simulator option timeout"));
      }
      qemu.push_back(item);
    } else {
      return UnknownName("mca simulator option", key, valid);
    }
  }
  o.qemu_extra = Join(qemu, ",");
  return o;
}

class McaSimulator : public Simulator, public DerivedFromQemuRun {
 public:
  McaSimulator(McaOptions options, std::unique_ptr<Simulator> qemu)
      : options_(std::move(options)), qemu_(std::move(qemu)) {}

  std::string name() const override { return "mca"; }

  std::string options_key() const override {
    std::vector<std::string> parts;
    if (!options_.cpu.empty()) parts.push_back("cpu=" + options_.cpu);
    if (options_.coverage != 0.99) {
      std::ostringstream c;
      c << "coverage=" << options_.coverage;
      parts.push_back(c.str());
    }
    if (options_.iterations > 0) parts.push_back("iterations=" + std::to_string(options_.iterations));
    return Join(parts, ",");
  }

  bool Supports(const Target& target) const override { return qemu_->Supports(target); }

  Status Available(const Target& target) const override {
    if (!Supports(target))
      return Error{"mca simulator does not support target " + target.name +
                   " (it runs qemu: linux targets in user mode, riscv64 bare metal in system mode)"};
    SIMTUNE_RETURN_IF_ERROR(qemu_->Available(target));
    for (const char* tool : {mca::kLlvmMca, mca::kLlvmObjdump})
      if (!ProgramExists(tool))
        return Error{std::string(tool) + " not found; install Debian package llvm-19 (scripts/setup does)"};
    if (Cpu(target).empty())
      return Error{"mca simulator: target " + target.name + " names no llvm-mca CPU (key mca_cpu in " +
                   target.source.string() + "); give one with option cpu=NAME"};
    return Status::Ok();
  }

  SimResult Simulate(const Artifact& artifact, const Target& target) const override {
    if (auto st = Available(target); !st.ok() && artifact.ok()) return Failed("missing-tool", st.message());
    return FromQemuRun(qemu_->Simulate(artifact, target), artifact, target, /*own_run=*/true);
  }

  std::string QemuRunOptions() const override { return options_.qemu_extra; }

  SimResult FromQemuRun(const SimResult& r, const Artifact& artifact, const Target& target,
                        bool own_run) const override {
    if (!r.ok()) return r;
    if (!own_run)
      if (auto st = Available(target); !st.ok()) return Failed("missing-tool", st.message());
    const auto start = std::chrono::steady_clock::now();
    const double run_s = own_run ? r.wall_s : 0.0;
    auto wall = [&] { return run_s + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    const uint64_t total = r.stats.insn_count;
    auto blocks = mca::ParseTbProfile(r.stats.extra.value("tbs", nlohmann::json()), "qemu statistics");
    if (!blocks.ok()) return Failed("parse", blocks.message(), wall());
    // Blocks of shared libraries (a dynamic executable's libc) are not in the artifact: they
    // stay uncovered (extra.mca.coverage says how much of the ROI that leaves out).
    auto ranges = mca::ExecutableRanges(artifact.elf);
    if (!ranges.ok()) return Failed("run", "mca: " + ranges.message(), wall());
    std::vector<mca::TbBlock> hot =
        mca::HotBlocks(mca::BlocksInRanges(*blocks, *ranges), options_.coverage, total);
    auto analysis = mca::AnalyzeBlocks(artifact.elf, target.isa, Cpu(target), hot,
                                       artifact.elf.parent_path(), options_.timeout_s,
                                       options_.iterations);
    if (!analysis.ok()) return Failed("run", "mca: " + analysis.message(), wall());
    nlohmann::json summary = mca::Combine(hot, *analysis);
    summary["coverage"] = total ? summary["covered_insns"].get<double>() / static_cast<double>(total) : 0.0;
    SimResult out;
    out.status = "ok";
    out.wall_s = wall();
    out.stats.simulator = "mca";
    out.stats.insn_count = total;
    out.stats.extra = {{"mca", summary}, {"isa", target.isa}};
    return out;
  }

 private:
  std::string Cpu(const Target& target) const { return options_.cpu.empty() ? target.mca_cpu : options_.cpu; }

  McaOptions options_;
  std::unique_ptr<Simulator> qemu_;
};

}  // namespace

void RegisterMcaSimulator(SimulatorRegistry& registry) {
  registry.Register(
      "mca",
      "qemu's per-block ROI counts x llvm-mca's cycles per block on the target's core model "
      "(mca_cpu): a static cycle estimate and the resources that bind",
      [](const std::string& options) -> Result<std::unique_ptr<Simulator>> {
        SIMTUNE_ASSIGN_OR_RETURN(McaOptions opts, ParseOptions(options));
        std::string qemu_options = "classes=off,mem=off,cache=off,bpred=off,reuse=off,tbs=on";
        if (!opts.qemu_extra.empty()) qemu_options += "," + opts.qemu_extra;
        SIMTUNE_ASSIGN_OR_RETURN(auto qemu, Simulators().Create("qemu", qemu_options));
        return std::unique_ptr<Simulator>(new McaSimulator(std::move(opts), std::move(qemu)));
      });
}

}  // namespace simtune
