// normlab: experiment runner and benchmark suite for normalization in neural networks.
// Exit codes: 0 success; 1 a run or check failed; 2 bad input, found before any run.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cmd/subcommands.h"
#include "nn/errors.h"

int main(int argc, char** argv) {
  // Colour only on a terminal, and never under CI: logs stay plain text in files.
  const bool plain = std::getenv("CI") != nullptr;
  spdlog::set_default_logger(spdlog::stderr_color_mt(
      "normlab", plain ? spdlog::color_mode::never : spdlog::color_mode::automatic));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");

  CLI::App app{"normlab: trains small networks with and without batch, layer and group\n"
               "normalization, sweeps their settings, and tests the claims made about them."};
  app.set_version_flag("--version",
                       std::string("normlab ") + NORMLAB_VERSION + " (" + NORMLAB_GIT_COMMIT + ", " +
                           NORMLAB_BLAS + ")");
  app.require_subcommand(1);
  normlab::cmd::setup_train(app);
  normlab::cmd::setup_data(app);
  normlab::cmd::setup_sweep(app);
  normlab::cmd::setup_merge(app);
  normlab::cmd::setup_bench(app);
  normlab::cmd::setup_claims(app);

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
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
