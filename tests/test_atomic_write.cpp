// write_file_atomic: concurrent writers of one path never collide, and a
// failed write leaves neither a temporary file nor a changed target.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/temp_name.h"
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

namespace {
// Starts f in a new PID namespace of its own, where it is PID 1 (as a second
// host or container would give it the same PID); returns the pid to wait_pid1 on.
template <class F>
pid_t start_as_pid1(F f) {
  const pid_t mid = fork();
  if (mid == 0) {
    if (unshare(CLONE_NEWPID) != 0) _exit(99);
    const pid_t w = fork();
    if (w == 0) _exit(getpid() == 1 ? f() : 98);
    int st = 0;
    waitpid(w, &st, 0);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 97);
  }
  return mid;
}
// The exit code of f, or -1 when PID namespaces are not allowed here.
int wait_pid1(pid_t mid) {
  int st = 0;
  waitpid(mid, &st, 0);
  const int code = WIFEXITED(st) ? WEXITSTATUS(st) : 96;
  return code == 99 ? -1 : code;
}
}  // namespace

TEST_CASE("atomic write: temporary names carry host, PID and a random part") {
  const std::string a = temp_path_for("/d/runs.csv"), b = temp_path_for("/d/runs.csv");
  CHECK(a != b);
  CHECK(a.rfind("/d/runs.csv.tmp.", 0) == 0);
  std::string pid_part = ".";
  pid_part += std::to_string(getpid());
  pid_part += '.';
  CHECK(a.find(pid_part) != std::string::npos);
  CHECK(a.size() - a.rfind('.') - 1 == 16);  // 64 random bits in hex
}

TEST_CASE("atomic write: two writers with the same PID (two hosts, two containers) do not collide") {
  // Both writers are PID 1 of their own PID namespace and write one target
  // 300 times at once. With names made of PID and a counter alone, both used
  // runs.csv.tmp.1.0, .1.1, ...: one renamed the other's file away ("No such file").
  ScratchDir d("atomic-same-pid");
  const std::string target = (d.path / "runs.csv").string(), names = (d.path / "names").string();
  auto writer = [&](char who) {
    return [&, who] {
      const std::string mine = names + std::string(1, who);
      std::ofstream(mine) << temp_path_for(target);
      try {
        for (int i = 0; i < 300; ++i) write_file_atomic(target, std::string(4096, who));
      } catch (const std::exception& e) {
        std::ofstream(mine + ".err") << e.what();
        return 1;
      }
      return 0;
    };
  };
  const pid_t pa = start_as_pid1(writer('a')), pb = start_as_pid1(writer('b'));
  const int codes[2] = {wait_pid1(pa), wait_pid1(pb)};
  if (codes[0] == -1 || codes[1] == -1) {
    MESSAGE("skipped: PID namespaces are not allowed here");
    return;
  }
  CHECK(codes[0] == 0);
  CHECK(codes[1] == 0);
  CHECK_MESSAGE(!fs::exists(names + "a.err"), slurp(names + "a.err"));
  CHECK_MESSAGE(!fs::exists(names + "b.err"), slurp(names + "b.err"));
  // Both really had PID 1, and still drew different names.
  const std::string na = slurp(names + "a"), nb = slurp(names + "b");
  CHECK(na.find(".1.") != std::string::npos);
  CHECK(nb.find(".1.") != std::string::npos);
  CHECK(na != nb);
  const std::string last = slurp(target);
  CHECK((last == std::string(4096, 'a') || last == std::string(4096, 'b')));
  for (const auto& e : fs::directory_iterator(d.path))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}
