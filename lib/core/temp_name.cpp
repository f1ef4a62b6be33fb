// Temporary names (format in temp_name.h). The random part comes from
// std::random_device (the kernel's getrandom), drawn per process and mixed with
// a per-call counter, so even two processes that share host name and PID
// (PID namespaces, containers, two hosts with one name) do not collide.
#include "core/temp_name.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <random>

namespace normlab {

namespace {

// Host names may hold characters a file name should not ('/' cannot occur,
// but keep it to [A-Za-z0-9.-_]), and are shortened to keep names short.
std::string host_part() {
  char h[256] = {};
  if (gethostname(h, sizeof h - 1) != 0) return "host";
  std::string s(h);
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '_';
  if (s.empty()) s = "host";
  return s.substr(0, 32);
}

std::uint64_t random_64() {
  std::random_device rd;
  return (std::uint64_t(rd()) << 32) ^ std::uint64_t(rd());
}

}  // namespace

std::string temp_path_for(const std::string& path) {
  // Per call: a fresh draw, mixed with a counter so two calls in one process never repeat.
  static std::atomic<std::uint64_t> counter{0};
  const std::uint64_t r = random_64() ^ (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  return fmt::format("{}.tmp.{}.{}.{:016x}", path, host_part(), ::getpid(), r);
}

}  // namespace normlab
