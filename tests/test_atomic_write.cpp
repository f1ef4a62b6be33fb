// write_file_atomic: concurrent writers of one path never collide, and a
// failed write leaves neither a temporary file nor a changed target.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data_test_util.h"
#include "results/run_files.h"

using namespace normlab;
using normlab::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::size_t entries(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += !e.path().empty();
  return n;
}
}  // namespace

TEST_CASE("atomic write: concurrent writers of one file never fail and leave one whole version") {
  ScratchDir d("atomic-concurrent");
  const std::string path = d / "runs.csv";
  std::vector<std::string> texts;
  for (int t = 0; t < 4; ++t) texts.push_back(std::string(20000, char('a' + t)) + "\n");
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        try {
          write_file_atomic(path, texts[t]);
        } catch (const std::exception&) {
          ++failures[t];
        }
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(failures[t] == 0);
  const std::string got = slurp(path);
  bool whole = false;
  for (const auto& t : texts) whole = whole || got == t;
  CHECK(whole);
  CHECK(entries(d.str()) == 1);  // no temporary file left
}

TEST_CASE("atomic write: a stale NAME.tmp left by an older writer does not block writing") {
  ScratchDir d("atomic-stale");
  fs::create_directories(d / "curves.csv.tmp");  // cannot be opened as a file
  write_file_atomic(d / "curves.csv", "x\n");
  CHECK(slurp(d / "curves.csv") == "x\n");
}

TEST_CASE("atomic write: a failed rename removes the temporary file and keeps the target") {
  ScratchDir d("atomic-fail");
  fs::create_directories(d.path / "target" / "inside");  // a non-empty directory: rename fails
  CHECK_THROWS(write_file_atomic(d / "target", "x\n"));
  CHECK(fs::is_directory(d.path / "target" / "inside"));
  CHECK(entries(d.str()) == 1);  // only the directory: the temporary file is gone
}

TEST_CASE("atomic write: a failure names the path and the OS's reason") {
  ScratchDir d("atomic-reason");
  const std::string path = (d.path / "missing" / "runs.csv").string();
  std::string what;
  try {
    write_file_atomic(path, "x\n");
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  CHECK(what.find("cannot write " + path) != std::string::npos);
  CHECK(what.find("No such file or directory") != std::string::npos);
}
