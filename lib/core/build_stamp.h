#pragma once
// What this binary was built from and with, fixed when CMake configures. The
// values live in one generated source (lib/core/build_stamp.cpp.in, written to
// the build tree), so a new commit recompiles that file alone, not every file.
namespace normlab {

struct BuildStamp {
  const char* version;     // project version
  const char* git_commit;  // short hash of HEAD at configure time, or "unknown"
  const char* cxx_flags;   // the release flags (plus -march=native in a native build)
  const char* blas;        // "OpenBLAS x.y.z"
  bool native;             // built with -march=native
};

const BuildStamp& build_stamp();

}  // namespace normlab
