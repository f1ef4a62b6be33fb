#pragma once
// Output paths checked before any work starts, so a run is never lost to a
// directory it cannot write after training. Each throws ConfigError
//   "OPTION: cannot write to PATH: REASON"
// for an empty path, a path too long (PATH_MAX, NAME_MAX per name), a regular
// file where a directory is needed (or a directory where a file is), or a
// directory the OS will not create or write in ("Permission denied",
// "Read-only file system", "Not a directory"). OPTION names where the path
// came from ("--out", "--save-weights", "NORMLAB_DATA").
#include <string>

namespace normlab {

// The spelling alone: not empty, within PATH_MAX and NAME_MAX per name. For
// the first look at a path, before anything stats it (a name over NAME_MAX
// makes std::filesystem::exists throw).
void check_out_spelling(const std::string& option, const std::string& path);

// Creates DIR (and its parents) if needed, then writes and removes a probe
// file in it: afterwards DIR is known to take files.
void prepare_out_dir(const std::string& option, const std::string& dir);

// FILE will be written later: it must not be a directory, and its directory
// must take files. With create_parent, a missing directory is created (a log
// file); without, it must exist already (--save-weights: refused up front
// rather than after training).
void check_out_file(const std::string& option, const std::string& file, bool create_parent);

}  // namespace normlab
