// Jobs: one candidate built, verified and simulated, and the JSON forms that MPI ranks
// exchange.
#include <chrono>

#include "simtune/exec.h"

namespace simtune {
namespace {

using nlohmann::json;

// Pulls a typed member out of a JSON object; the error names the member.
template <class T>
Status Get(const json& j, const char* key, T& out, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return Error{where + ": missing \"" + key + "\""};
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception&) {
    return Error{where + ": \"" + key + "\" has the wrong type"};
  }
  return Status::Ok();
}

json ArtifactToJson(const Artifact& a) {
  // The build log can be long; the tail says what went wrong.
  std::string log = a.build_log.size() > 4000 ? a.build_log.substr(a.build_log.size() - 4000) : a.build_log;
  return {{"target", a.target}, {"hash", a.hash},     {"elf", a.elf.string()},
          {"status", a.status}, {"stage", a.stage},   {"message", a.message},
          {"build_log", log},   {"build_s", a.build_s}, {"cached", a.cached},
          {"flops", a.flops}};
}

Result<Artifact> ArtifactFromJson(const json& j) {
  Artifact a;
  std::string elf;
  const std::string w = "job result artifact";
  SIMTUNE_RETURN_IF_ERROR(Get(j, "target", a.target, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "hash", a.hash, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "elf", elf, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "status", a.status, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "stage", a.stage, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "message", a.message, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "build_log", a.build_log, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "build_s", a.build_s, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "cached", a.cached, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "flops", a.flops, w));
  a.elf = elf;
  return a;
}

}  // namespace

json JobContext::ToJson() const {
  json sims = json::array();
  for (const auto& s : simulators) sims.push_back({{"name", s.name}, {"options", s.options}});
  return {{"workload", workload},
          {"target", target},
          {"simulators", sims},
          {"cache_dir", build.cache_dir.string()},
          {"build_timeout_s", build.timeout_s},
          {"extra_cflags", build.extra_cflags},
          {"verify", verify},
          {"verify_timeout_s", verify_timeout_s}};
}

Result<JobContext> JobContext::FromJson(const json& j) {
  JobContext c;
  const std::string w = "job context";
  std::string cache;
  json sims;
  SIMTUNE_RETURN_IF_ERROR(Get(j, "workload", c.workload, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "target", c.target, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "simulators", sims, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "cache_dir", cache, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "build_timeout_s", c.build.timeout_s, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "extra_cflags", c.build.extra_cflags, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "verify", c.verify, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "verify_timeout_s", c.verify_timeout_s, w));
  c.build.cache_dir = cache;
  if (!sims.is_array()) return Error{w + ": \"simulators\" must be an array"};
  for (const auto& s : sims) {
    SimulatorSpec spec;
    SIMTUNE_RETURN_IF_ERROR(Get(s, "name", spec.name, w + " simulator"));
    SIMTUNE_RETURN_IF_ERROR(Get(s, "options", spec.options, w + " simulator"));
    c.simulators.push_back(spec);
  }
  return c;
}

bool JobResult::ok() const { return failed_stage().empty(); }

std::string JobResult::failed_stage() const {
  if (!artifact.ok()) return artifact.stage.empty() ? "build" : artifact.stage;
  for (const auto& s : sims)
    if (!s.ok()) return s.stage.empty() ? "simulate" : s.stage;
  return "";
}

json JobResult::ToJson() const {
  json sims_json = json::array();
  for (const auto& s : sims) {
    sims_json.push_back({{"status", s.status},
                         {"stage", s.stage},
                         {"message", s.message},
                         {"wall_s", s.wall_s},
                         {"stats", s.ok() ? s.stats.ToJson() : json::object()}});
  }
  return {{"id", id}, {"artifact", ArtifactToJson(artifact)}, {"sims", sims_json},
          {"wall_s", wall_s}, {"worker", worker}};
}

Result<JobResult> JobResult::FromJson(const json& j) {
  JobResult r;
  const std::string w = "job result";
  json art, sims;
  SIMTUNE_RETURN_IF_ERROR(Get(j, "id", r.id, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "artifact", art, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "sims", sims, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "wall_s", r.wall_s, w));
  SIMTUNE_RETURN_IF_ERROR(Get(j, "worker", r.worker, w));
  SIMTUNE_ASSIGN_OR_RETURN(r.artifact, ArtifactFromJson(art));
  if (!sims.is_array()) return Error{w + ": \"sims\" must be an array"};
  for (const auto& s : sims) {
    SimResult sr;
    SIMTUNE_RETURN_IF_ERROR(Get(s, "status", sr.status, w + " sim"));
    SIMTUNE_RETURN_IF_ERROR(Get(s, "stage", sr.stage, w + " sim"));
    SIMTUNE_RETURN_IF_ERROR(Get(s, "message", sr.message, w + " sim"));
    SIMTUNE_RETURN_IF_ERROR(Get(s, "wall_s", sr.wall_s, w + " sim"));
    if (sr.ok()) {
      if (!s.contains("stats")) return Error{w + " sim: missing \"stats\""};
      SIMTUNE_ASSIGN_OR_RETURN(sr.stats, SimStats::FromJson(s["stats"], w + " sim stats"));
    }
    r.sims.push_back(std::move(sr));
  }
  return r;
}

namespace {

// An artifact that the qemu simulator verified (JobRunner::verifying_qemu_): its run
// went through the harness's check unless the artifact had verified checksums already (a
// cached one; the run then compared them). A wrong result, a trap or a hang there is the
// artifact's failure, as the verification run's would have been: a failed build row
// without simulations. An ok run recorded the checksums (RecordVerifiedChecksums).
void FoldQemuVerdict(Artifact& a, std::vector<SimResult>& sims, size_t qemu) {
  const SimResult& q = sims.at(qemu);
  if (q.ok()) {
    if (RecordVerifiedChecksums(a, q.checksums)) a.verified_checksums = q.checksums;
    return;
  }
  if (q.stage != "verify" && q.stage != "run" && q.stage != "timeout") return;
  a.status = "failed";
  a.stage = q.stage;
  a.message = "under qemu-system-riscv64 (the qemu simulator's run verifies): " + q.message;
  sims.clear();
}

}  // namespace

Result<std::unique_ptr<JobRunner>> JobRunner::Create(const JobContext& context) {
  std::unique_ptr<JobRunner> r(new JobRunner());
  r->context_ = context;
  SIMTUNE_ASSIGN_OR_RETURN(r->workload_, ParseWorkload(context.workload));
  SIMTUNE_ASSIGN_OR_RETURN(r->target_, LoadTarget(context.target));
  std::vector<std::pair<std::string, std::string>> specs;
  for (const auto& spec : context.simulators) specs.emplace_back(spec.name, spec.options);
  SIMTUNE_ASSIGN_OR_RETURN(r->simulators_, SimulatorSet::Create(specs));
  SIMTUNE_RETURN_IF_ERROR(r->simulators_->CheckTarget(r->target_));
  // The spike simulator takes a plain Spike verification run's output as its own first run;
  // else, on bare metal, the qemu simulator's run of an unverified artifact verifies it.
  std::optional<size_t> qemu;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].first == "spike") r->bare_metal_verifier_ = BareMetalVerifier::kSpike;
    if (specs[i].first == "qemu") qemu = i;
  }
  if (r->bare_metal_verifier_ != BareMetalVerifier::kSpike && r->target_.baremetal() &&
      r->target_.runner.empty() && context.verify)
    r->verifying_qemu_ = qemu;
  BuildOptions bo = context.build;
  bo.jobs = 1;
  r->builder_ = std::make_unique<Builder>(bo);
  return r;
}

JobResult JobRunner::RunJob(const Job& job) const {
  auto start = std::chrono::steady_clock::now();
  JobResult r;
  r.id = job.id;
  r.artifact = builder_->Build(workload_, job.config, target_);
  Artifact& a = r.artifact;
  // Same verdict folding as `simtune build`: a wrong or crashing artifact is a failed build row.
  if (context_.verify && !verifying_qemu_)
    VerifyArtifactInto(a, target_, context_.verify_timeout_s, bare_metal_verifier_);
  if (a.ok()) r.sims = simulators_->Simulate(a, target_);
  if (verifying_qemu_ && a.ok()) FoldQemuVerdict(a, r.sims, *verifying_qemu_);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace simtune
