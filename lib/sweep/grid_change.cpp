// Grid comparison (definitions in grid_change.h). A key is fixed in a grid
// when every run has the same value; only keys fixed in both grids can "change".
#include "sweep/grid_change.h"

#include <fmt/format.h>

#include <optional>
#include <set>

namespace normlab {

namespace {
// The key's one value over the runs, or nothing when it varies (or no runs).
std::optional<std::string> fixed_value(const std::vector<RunConfig>& runs, const char* key) {
  if (runs.empty()) return std::nullopt;
  const std::string& v = runs[0].get(key);
  for (const auto& r : runs)
    if (r.get(key) != v) return std::nullopt;
  return v;
}
}  // namespace

GridChange compare_grids(const std::vector<RunConfig>& old_runs, const std::vector<RunConfig>& new_runs) {
  GridChange c;
  for (const auto& k : run_keys()) {
    if (!k.identity) continue;
    const auto a = fixed_value(old_runs, k.name), b = fixed_value(new_runs, k.name);
    if (a && b && *a != *b)
      c.fixed_changed.push_back(fmt::format("{}: {} -> {}", k.name, a->empty() ? "\"\"" : *a, b->empty() ? "\"\"" : *b));
  }
  std::set<std::string> old_ids, new_ids;
  for (const auto& r : old_runs) old_ids.insert(r.run_id());
  for (const auto& r : new_runs) new_ids.insert(r.run_id());
  for (const auto& id : new_ids) (old_ids.count(id) ? c.kept : c.added) += 1;
  for (const auto& id : old_ids) c.dropped += !new_ids.count(id);
  return c;
}

}  // namespace normlab
