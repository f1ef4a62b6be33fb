#pragma once
// What this binary was built from and with. The flags and versions are fixed
// when CMake configures (lib/core/build_stamp.cpp.in); the commit is read at
// build time, every build (cmake/commit_stamp.cmake), into one small generated
// source that is rewritten only when the commit or the dirty state changes.
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

}  // namespace normlab
