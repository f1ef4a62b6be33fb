#pragma once
// Where datasets live.
#include <string>

namespace normlab {

// The data directory, first match of:
//   1. $NORMLAB_DATA, if set and non-empty;
//   2. <checkout>/data, where <checkout> is the nearest directory at or above
//      the current directory that holds CMakeLists.txt and lib/data/ (you run
//      normlab from inside the checkout);
//   3. the same search upward from the executable's directory (build/ inside
//      the checkout);
//   4. an installed binary (<bin>/../share/normlab exists):
//      $XDG_DATA_HOME/normlab, else $HOME/.local/share/normlab, even when the
//      checkout it was built from still exists;
//   5. <checkout>/data for the checkout this binary was compiled from, if it
//      still exists (out-of-tree build dirs);
//   6. companion files found some other way (core/share_dir.h, e.g.
//      $NORMLAB_SHARE_DIR): the user's data folder as in 4;
//   7. ./data.
// The directory need not exist yet; fetch creates it.
std::string data_dir();

}  // namespace normlab
