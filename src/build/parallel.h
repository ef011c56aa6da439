// Internal to src/build: runs fn(0..n-1) on `jobs` threads, results in index order.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "simtune/process.h"

namespace simtune {

template <class T>
std::vector<T> ParallelMap(size_t n, int jobs, const std::function<T(size_t)>& fn) {
  std::vector<T> out(n);
  size_t workers = static_cast<size_t>(WorkerCount(jobs, n));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) out[i] = fn(i);
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  if (n > 0) work();  // the calling thread is one of the workers
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace simtune
