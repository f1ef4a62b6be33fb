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
//   4. <checkout>/data for the checkout this binary was compiled from, if it
//      still exists (out-of-tree build dirs);
//   5. an installed binary (core/share_dir.h finds its share folder):
//      $XDG_DATA_HOME/normlab, else $HOME/.local/share/normlab;
//   6. ./data.
// The directory need not exist yet; fetch creates it.
std::string data_dir();

}  // namespace normlab
