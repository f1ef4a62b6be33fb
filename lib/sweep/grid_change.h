#pragma once
// How an experiment's grid differs from the grid a sweep directory already
// holds (its manifest.json), to tell growing a sweep from changing it:
//   growth  new seeds or new values of a key that varies: the old runs keep
//           their ids and bytes, only the new ones run;
//   change  an identity key that has one value in both grids, but not the
//           same one (model, steps, dataset ...): old and new runs answer
//           different questions and must not share a directory.
#include <string>
#include <vector>

#include "train/run_config.h"

namespace normlab {

struct GridChange {
  std::vector<std::string> fixed_changed;  // "steps: 500 -> 1000", in key order
  std::size_t kept = 0;     // run ids in both grids
  std::size_t added = 0;    // only in the new grid
  std::size_t dropped = 0;  // only in the old grid (their parts stay on disk, unused)
};

GridChange compare_grids(const std::vector<RunConfig>& old_runs, const std::vector<RunConfig>& new_runs);

}  // namespace normlab
