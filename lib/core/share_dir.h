#pragma once
// Where normlab's companion files live: experiments/ (the claims suite and the
// example sweeps), scripts/report.py with its normlab_report package, docs/.
// They are found relative to the binary, never to the working folder, so every
// subcommand works from any folder.
#include <string>
#include <string_view>

namespace normlab {

// The environment variable that overrides the search below.
inline constexpr const char* kShareDirEnv = "NORMLAB_SHARE_DIR";

// The companion-file root, first match of:
//   1. $NORMLAB_SHARE_DIR, if set and non-empty (taken as given);
//   2. <bin>/../share/normlab, <bin> the folder of the binary's real path
//      (the layout `cmake --install` and the .deb package make);
//   3. the source checkout this binary was configured from, if it still
//      holds experiments/ (a build tree).
// Returns "" when none matches.
std::string share_dir();

// share_dir()/REL. Throws ConfigError naming REL, where it was looked for and
// the variable to set when no root is found or REL is not in it.
// REQUIRES: REL is relative ("scripts/report.py").
std::string share_file(std::string_view rel);

// P relative to share_dir() when P lies inside it ("experiments/claims/x.toml"),
// else P unchanged: what manifests record, so they name no machine's folders.
std::string share_relative(const std::string& p);

}  // namespace normlab
