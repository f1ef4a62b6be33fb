#pragma once
// The one way a user-given file is read: with a size cap, so /dev/zero, a
// FIFO that never ends or a multi-gigabyte file given as a config, an
// experiment, a CSV or a weights file exits 2 instead of filling memory.
// The cap is NORMLAB_MAX_FILE_MB (core/limits.h). A regular file is checked
// by its size before any byte is read; anything else (a pipe, a device) is
// read in chunks and refused as soon as it passes the cap.
#include <cstdint>
#include <string>

namespace normlab {

// REQUIRES: nothing. Returns the whole file. Throws ConfigError naming the
// path: "cannot open: REASON", "is a directory", or "larger than the limit of
// N MiB ... set NORMLAB_MAX_FILE_MB=M to raise it".
std::string read_file_capped(const std::string& path);

// The cap in bytes (NORMLAB_MAX_FILE_MB), and the refusal message for a file
// of `bytes` (at least) over it, for readers that stream (IDX, gzip).
std::uint64_t max_file_bytes();
[[noreturn]] void refuse_file_size(const std::string& path, double bytes, bool at_least);

}  // namespace normlab
