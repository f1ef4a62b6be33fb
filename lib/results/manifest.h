#pragma once
// manifest.json, the one builder for `train` and `sweep` directories:
//   { "command": "train" | "sweep", <what was run, given by the caller>,
//     "build": { normlab_version, git_commit, compiler, cxx_flags, linear_algebra,
//                blas_kernel, blas_kernel_pinned, numerics (tensor/numerics.h: the arithmetic its
//                results come from), reproducibility: [why bytes may differ], host },
//     "datasets": [ { name, source, subset, train, test, checksum, location,
//                     standardize_mean, standardize_std } ],
//     "started", "finished" }
// location is relative to the data directory (data/data_dir.h) when the files
// lie inside it, so committed manifests name no machine's folders.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace normlab {

// Build and host facts, including the BLAS kernel in use (tensor/blas_kernel.h).
nlohmann::json build_info();

// Why no commit reproduces a binary stamped GIT_COMMIT (core/build_stamp.h): it was
// built with uncommitted changes ("<hex>-dirty") or outside a git checkout
// ("unknown"), or its stamp is not a 12-hex commit. Empty for a clean commit.
// build_info() lists it under reproducibility.
std::string source_note(const std::string& git_commit);

// One dataset's provenance.
nlohmann::json dataset_record(const Dataset& ds);

// LOCATION relative to the data directory when it lies inside it, else unchanged:
// a manifest names no machine's folders. Manifests written before this rule are
// brought to it when their rules are applied again (claims --evaluate-only).
std::string recorded_location(const std::string& location);

// REQUIRES: what is an object (its keys are merged in at the top level).
nlohmann::json make_manifest(const std::string& command, const nlohmann::json& what,
                             const std::vector<const Dataset*>& datasets, const std::string& started,
                             const std::string& finished);

}  // namespace normlab
