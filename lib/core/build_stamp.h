#pragma once
// What this binary was built from and with. The flags and versions are fixed
// when CMake configures (lib/core/build_stamp.cpp.in); the commit is read at
// build time, every build (cmake/commit_stamp.cmake), into one small generated
// source that is rewritten only when the commit or the dirty state changes.
#include <algorithm>
#include <string_view>

namespace normlab {

struct BuildStamp {
  const char* version;     // project version
  const char* git_commit;  // 12-hex HEAD at build time, "-dirty" appended when a tracked
                           // file outside results/ differed from HEAD; or "unknown"
  const char* cxx_flags;   // the release flags (plus -march=native in a native build)
  const char* blas;        // "OpenBLAS x.y.z"
  bool native;             // built with -march=native
};

const BuildStamp& build_stamp();

// Whether a git_commit stamp names a commit that reproduces its binary: 12 lower-case
// hex digits, nothing appended ("-dirty") and not "unknown".
inline bool is_clean_commit_stamp(std::string_view stamp) {
  return stamp.size() == 12 &&
         std::all_of(stamp.begin(), stamp.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace normlab
