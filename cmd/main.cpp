// normlab: experiment runner and benchmark suite for normalization in neural networks.
// Exit codes: 0 success; 1 a run or check failed; 2 bad input, found before any run.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>

#include "cmd/subcommands.h"
#include "core/build_stamp.h"
#include "core/test_hooks.h"
#include "core/errors.h"
#include "core/share_dir.h"
#include "tensor/blas_kernel.h"
#include "nn/conv2d.h"
#include "sweep/ledger.h"

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) then fails the write with EFBIG, which is
  // reported with the path, instead of killing the process without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  // First, before OpenBLAS is used or any thread starts: may re-execute the process.
  const auto kernel_error = normlab::pin_blas_kernel(argv);
  // Colour only on a terminal, and never under CI: logs stay plain text in files.
  const bool plain = std::getenv("CI") != nullptr;
  spdlog::set_default_logger(spdlog::stderr_color_mt(
      "normlab", plain ? spdlog::color_mode::never : spdlog::color_mode::automatic));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  if (kernel_error) {
    spdlog::error("{}", *kernel_error);
    return 2;
  }
  // The other settings read from the environment, checked before any command: a
  // value that would be ignored is refused.
  for (const auto& problem : {normlab::conv_isa_env_problem(), normlab::heartbeat_env_problem()})
    if (problem) {
      spdlog::error("{}", *problem);
      return 2;
    }
  const normlab::BlasKernel kernel = normlab::blas_kernel();
  if (!kernel.warning.empty()) spdlog::warn("{}", kernel.warning);
  const normlab::BuildStamp& stamp = normlab::build_stamp();
  if (stamp.native) spdlog::warn("built with -march=native: results may differ from other builds and CPUs");
  for (const auto& hook : normlab::active_test_hooks())
    spdlog::warn("test hook {} is set: results are deliberately wrong or slow (a test of the checks), and the "
                 "manifests say so; unset it for real results", hook);

  CLI::App app{"normlab: trains small networks with and without batch, layer and group\n"
               "normalization, sweeps their settings, and tests the claims made about them."};
  app.set_version_flag("--version",
                       std::string("normlab ") + stamp.version + " (" + stamp.git_commit + ", " +
                           stamp.blas + ", kernel " + kernel.name +
                           (kernel.pinned ? " (pinned)" : " (not pinned)") + ")");
  app.require_subcommand(1);
  app.footer(fmt::format(
      "Environment:\n  {}=pinned|native  BLAS kernel. pinned (default): every product runs OpenBLAS's {}\n"
      "      kernel on any x86-64 machine with AVX2, so results are the same bytes everywhere.\n"
      "      native: OpenBLAS picks by CPU; results then match only machines that pick the same kernel.\n"
      "      In use now: {}{}.\n"
      "  {}=DIR  the folder holding experiments/ (the claims) and scripts/report.py. Default:\n"
      "      <bin>/../share/normlab beside the binary's real path, or the source checkout of a build tree.\n"
      "      In use now: {}.\n"
      "  NORMLAB_DATA=DIR  the data folder (default: data/ in the checkout, or ~/.local/share/normlab installed).",
      normlab::kBlasKernelEnv, normlab::kPinnedBlasKernel, kernel.name, kernel.pinned ? " (pinned)" : " (not pinned)",
      normlab::kShareDirEnv, normlab::share_dir().empty() ? "none found" : normlab::share_dir()));
  normlab::cmd::setup_train(app);
  normlab::cmd::setup_data(app);
  normlab::cmd::setup_sweep(app);
  normlab::cmd::setup_merge(app);
  normlab::cmd::setup_bench(app);
  normlab::cmd::setup_claims(app);
  normlab::cmd::setup_slurm(app);
  normlab::cmd::setup_status(app);
  normlab::cmd::setup_verify(app);
  normlab::cmd::setup_history(app);
  normlab::cmd::setup_keys(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const normlab::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path that cannot be used (a symlink loop, a name too long, no permission):
    // bad input, named, not a library message with exit 1.
    std::string paths = e.path1().string();
    if (!e.path2().empty()) paths += ", " + e.path2().string();
    spdlog::error("{}: {} (check the path: it must exist and be reachable without a symbolic link loop)",
                  paths.empty() ? "a path" : paths, e.code().message());
    return 2;
  } catch (const normlab::Interrupted& e) {
    spdlog::warn("{}", e.what());
    return 128 + e.signal;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
