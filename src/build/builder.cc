#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>

#include "harness.h"
#include "parallel.h"
#include "simtune/build.h"
#include "simtune/files.h"
#include "simtune/process.h"
#include "simtune/strings.h"

namespace simtune {
namespace fs = std::filesystem;

namespace {

// Bump when the build recipe changes in a way the hashed inputs do not show.
constexpr const char* kRecipe = "simtune-build-v1 reference=-O1";

// `cc --version` costs a process start; the answer cannot change within one run.
Result<std::string> CompilerIdentity(const std::string& cc, double timeout_s) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(cc); it != cache.end()) return it->second;
  }
  ProcessOptions opts;
  opts.timeout_s = timeout_s;
  SIMTUNE_ASSIGN_OR_RETURN(ProcessResult r, RunProcess({cc, "--version"}, opts));
  if (!r.Success()) return Error{"'" + cc + " --version' failed: " + r.Describe(timeout_s)};
  std::string first = Trim(r.out.substr(0, r.out.find('\n')));
  if (first.empty()) return Error{"'" + cc + " --version' printed nothing"};
  std::lock_guard<std::mutex> lock(mu);
  cache.emplace(cc, first);
  return first;
}

// The line that best says why the compiler failed: the first compiler diagnostic marked
// as an error, else the first linker complaint, else the first non-empty line.
std::string FirstErrorLine(const std::string& log) {
  std::vector<std::string> lines;
  for (const auto& l : Split(log, '\n'))
    if (!Trim(l).empty() && !StartsWith(l, "$ ") && !StartsWith(l, "# ")) lines.push_back(Trim(l));
  for (const auto& l : lines)
    if ((l.find(" error: ") != std::string::npos || l.find(" fatal error: ") != std::string::npos) &&
        !StartsWith(l, "collect2"))
      return l;
  for (const char* what : {"undefined reference", "multiple definition", "ld: "})
    for (const auto& l : lines)
      if (l.find(what) != std::string::npos) return l;
  return lines.empty() ? "" : lines.front();
}

Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return Error{"cannot write '" + path.string() + "'"};
  return Status::Ok();
}

bool Exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// Marks a cache entry or shared object as used now: its modification time is its last use,
// which PruneCache (cache.cc) evicts by. A read-only cache is left as it is.
void TouchCacheItem(const fs::path& path) {
  std::error_code ec;
  fs::last_write_time(path, fs::file_time_type::clock::now(), ec);
}

void AddField(std::string& key, const std::string& tag, const std::string& value) {
  key += tag + " " + std::to_string(value.size()) + "\n" + value + "\n";
}

Artifact Failed(Artifact a, const std::string& stage, const std::string& message) {
  a.status = "failed";
  a.stage = stage;
  a.message = message;
  a.elf.clear();
  return a;
}

// Runs one compiler step in `dir`, appending the command and its output to `log`.
// Returns "" on success, else the one-line reason.
std::string RunStep(const std::vector<std::string>& argv, const fs::path& dir, double timeout_s,
                    std::string& log) {
  log += "$ " + Join(argv, " ") + "\n";
  ProcessOptions opts;
  opts.cwd = dir;
  opts.timeout_s = timeout_s;
  // Plain ASCII diagnostics in English, whatever the user's locale: messages are data.
  opts.extra_env = {{"LC_ALL", "C"}};
  auto r = RunProcess(argv, opts);
  if (!r.ok()) {
    log += r.message() + "\n";
    return r.message();
  }
  log += r->out + r->err;
  if (r->Success()) return "";
  if (r->timed_out || r->signal) return argv[0] + " " + r->Describe(timeout_s);
  std::string line = FirstErrorLine(r->out + r->err);
  return line.empty() ? argv[0] + " failed: " + r->Describe(timeout_s) : line;
}

// Bump when the shared objects' recipe changes in a way the hashed inputs do not show.
constexpr const char* kObjectRecipe = "simtune-object-v1";

// Compiles `name` (a C file in `dir` whose text is `code`; `data`, when not empty, is the
// harness's data file that it includes from `dir`) with `flags` and -c into the shared
// object cache <cache_dir>/obj/<hash>.o, unless an earlier build put it there. Returns the
// object's path, or the one-line reason the compiler failed (its output is in `log`).
// Several builders may install the same object at once: each renames a complete file into
// place, and every one of them has the same bytes.
Result<fs::path> SharedObject(const fs::path& cache_dir, double timeout_s, const std::string& name,
                              const std::string& code, const std::string& data,
                              const std::string& cc, const std::string& identity,
                              const std::vector<std::string>& flags, const fs::path& dir,
                              std::string& log) {
  std::string key = std::string(kObjectRecipe) + "\n";
  AddField(key, "cc", cc);
  AddField(key, "cc-version", identity);
  for (const auto& f : flags) AddField(key, "cflag", f);
  AddField(key, name, code);
  if (!data.empty()) AddField(key, kHarnessDataFile, data);
  fs::path obj_dir = cache_dir / "obj";
  fs::path obj = obj_dir / (Sha256Hex(key) + ".o");
  if (Exists(obj)) {
    log += "# " + name + ": compiled by an earlier build, " + obj.string() + "\n";
    TouchCacheItem(obj);
    return obj;
  }
  std::error_code ec;
  fs::create_directories(obj_dir, ec);
  if (ec) return Error{"cannot create cache directory '" + obj_dir.string() + "': " + ec.message()};
  std::string out = fs::path(name).stem().string() + ".o";
  std::vector<std::string> cmd = {cc};
  cmd.insert(cmd.end(), flags.begin(), flags.end());
  for (const std::string& s : {std::string("-c"), name, std::string("-o"), out}) cmd.push_back(s);
  std::string why = RunStep(cmd, dir, timeout_s, log);
  if (!why.empty()) return Error{why};
  fs::rename(dir / out, obj, ec);
  if (ec && !Exists(obj))
    return Error{"cannot install '" + obj.string() + "': " + ec.message()};
  fs::remove(dir / out, ec);
  return obj;
}

}  // namespace

Builder::Builder(BuildOptions options) : options_(std::move(options)) {
  std::error_code ec;
  fs::path abs = fs::absolute(options_.cache_dir, ec);
  if (!ec) options_.cache_dir = abs;
}

Artifact Builder::BuildSource(const KernelSource& source, const Target& target) {
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Artifact a;
  a.target = target.name;
  a.flops = source.flops;

  auto harness = GenerateHarness(source, target);
  if (!harness.ok()) return Failed(a, "generate", harness.message());
  auto identity = CompilerIdentity(target.cc, options_.timeout_s);
  if (!identity.ok()) return Failed(a, "build", identity.message());

  std::vector<std::string> flags = target.cflags;
  flags.insert(flags.end(), options_.extra_cflags.begin(), options_.extra_cflags.end());
  flags.insert(flags.end(), source.extra_cflags.begin(), source.extra_cflags.end());

  std::string key = std::string(kRecipe) + "\n";
  AddField(key, "cc", target.cc);
  AddField(key, "cc-version", *identity);
  for (const auto& f : flags) AddField(key, "cflag", f);
  for (const auto& f : target.ldflags) AddField(key, "ldflag", f);
  for (const auto& f : harness->ldflags) AddField(key, "harness-ldflag", f);
  AddField(key, "kernel.c", source.code);
  AddField(key, "reference.c", source.reference_code);
  AddField(key, "harness.c", harness->c);
  // The inputs' initialized data: derived from the workload alone, but hashed all the same,
  // so that a change in how it is made cannot reuse an ELF built from other bytes.
  AddField(key, kHarnessDataFile, harness->data);
  a.hash = Sha256Hex(key);

  fs::path shard = options_.cache_dir / a.hash.substr(0, 2);
  fs::path final_dir = shard / a.hash;
  fs::path elf = final_dir / "artifact.elf";
  std::error_code ec;
  if (Exists(elf)) {
    TouchCacheItem(final_dir);
    a.status = "ok";
    a.elf = elf;
    a.cached = true;
    a.build_log = ReadWholeFile(final_dir / "build.log").value_or("");
    a.build_s = elapsed();
    return a;
  }

  fs::create_directories(shard, ec);
  if (ec) return Failed(a, "build", "cannot create cache directory '" + shard.string() + "': " +
                                        ec.message());
  static std::atomic<uint64_t> counter{0};
  fs::path tmp = shard / (".tmp-" + a.hash.substr(0, 16) + "-" + std::to_string(getpid()) +
                          "-" + std::to_string(counter++));
  fs::remove_all(tmp, ec);
  fs::create_directory(tmp, ec);
  if (ec) return Failed(a, "build", "cannot create '" + tmp.string() + "': " + ec.message());
  for (auto [name, text] : {std::pair<const char*, const std::string*>{"kernel.c", &source.code},
                            {"reference.c", &source.reference_code},
                            {"harness.c", &harness->c},
                            {kHarnessDataFile, &harness->data}}) {
    Status s = WriteFile(tmp / name, *text);
    if (!s.ok()) {
      fs::remove_all(tmp, ec);
      return Failed(a, "build", s.message());
    }
  }

  // The reference and the harness are the same for every candidate of a workload: each is
  // compiled once into a shared object file (<cache_dir>/obj/<hash>.o, keyed by the compiler,
  // its flags and the source, and the inputs' data for the harness) and linked from there.
  // The ELF is byte-identical to compiling all three in one command.
  std::string log;
  std::vector<std::string> ref_flags = flags;
  ref_flags.push_back("-O1");
  auto reference_o = SharedObject(options_.cache_dir, options_.timeout_s, "reference.c",
                                  source.reference_code, "", target.cc, *identity, ref_flags, tmp,
                                  log);
  std::string why = reference_o.ok() ? "" : reference_o.message();
  Result<fs::path> harness_o = fs::path();
  if (why.empty()) {
    harness_o = SharedObject(options_.cache_dir, options_.timeout_s, "harness.c", harness->c,
                             harness->data, target.cc, *identity, flags, tmp, log);
    if (!harness_o.ok()) why = harness_o.message();
  }
  if (why.empty()) {
    std::vector<std::string> link_cmd = {target.cc};
    link_cmd.insert(link_cmd.end(), flags.begin(), flags.end());
    link_cmd.push_back(harness_o->string());
    link_cmd.push_back("kernel.c");
    link_cmd.push_back(reference_o->string());
    link_cmd.insert(link_cmd.end(), target.ldflags.begin(), target.ldflags.end());
    link_cmd.insert(link_cmd.end(), harness->ldflags.begin(), harness->ldflags.end());
    link_cmd.push_back("-o");
    link_cmd.push_back("artifact.elf");
    why = RunStep(link_cmd, tmp, options_.timeout_s, log);
  }
  // The ELF holds the data; a failed build keeps it with the sources, for inspection.
  if (why.empty()) fs::remove(tmp / kHarnessDataFile, ec);
  (void)WriteFile(tmp / "build.log", log);
  a.build_log = log;
  bool built = why.empty();
  if (built && !Exists(tmp / "artifact.elf")) {
    why = target.cc + " reported success but wrote no artifact.elf";
    built = false;
  }
  if (built) {
    // Renaming the complete folder is atomic: readers never see a half-written entry.
    fs::rename(tmp, final_dir, ec);
    if (ec && !Exists(elf)) {
      // A failed build of the same hash is in the way: move it aside and retry once.
      fs::path old = tmp;
      old += ".old";
      std::error_code ec2;
      fs::rename(final_dir, old, ec2);
      fs::remove_all(old, ec2);
      fs::rename(tmp, final_dir, ec);
    }
    if (ec) fs::remove_all(tmp, ec);  // lost a race to an identical build: use the winner's
    if (!Exists(elf)) return Failed(a, "build", "cannot install '" + final_dir.string() + "'");
    a.status = "ok";
    a.elf = elf;
  } else {
    // Keep the failed sources and log for inspection unless an entry is already there.
    fs::rename(tmp, final_dir, ec);
    if (ec) fs::remove_all(tmp, ec);
    a = Failed(a, "build", why);
  }
  a.build_s = elapsed();
  return a;
}

std::vector<Artifact> Builder::BuildSources(const std::vector<KernelSource>& sources,
                                            const Target& target) {
  return ParallelMap<Artifact>(sources.size(), options_.jobs,
                               [&](size_t i) { return BuildSource(sources[i], target); });
}

}  // namespace simtune
