#pragma once
// Temporary file names for write-then-rename. A name must be unique among
// every process that may write into the same directory, which on a shared
// filesystem includes processes on other hosts and in other containers, where
// PIDs repeat. So it carries the host name, the PID and 64 random bits:
//   PATH.tmp.HOST.PID.RANDOM     (RANDOM: 16 hex digits)
// Any leftover matches the glob "*.tmp.*" and can be deleted when no writer runs.
#include <string>

namespace normlab {

// REQUIRES: nothing. A fresh temporary name beside path (same directory, so
// rename(2) is atomic); distinct on every call, in every process, on every host.
std::string temp_path_for(const std::string& path);

}  // namespace normlab
