#pragma once
// The one way C++ starts a report: scripts/report.py (a thin entry to the
// scripts/normlab_report package) reads a sweep or claim directory's CSVs and
// writes report.md and its figures into that directory. It runs under Debian's
// /usr/bin/python3, which has pandas and matplotlib. Every number it prints is
// read from the CSVs; it computes none that a rule decides on.
#include <string>

namespace normlab {

// Runs `/usr/bin/python3 SCRIPT --html --if-changed DIR` (report.md, figures and
// the self-contained report.html, drawn only when report.py's code or DIR's files
// changed since they were; a SCRIPT given by the caller gets DIR alone),
// both shell-quoted, with its output discarded. Returns true on
// exit 0; otherwise logs a warning naming DIR and the exit code and returns false.
// SCRIPT "" is normlab's own scripts/report.py, found beside the binary
// (core/share_dir.h), whatever the working folder; a missing script is a warning.
bool render_report(const std::string& dir, const std::string& script = "");

}  // namespace normlab
